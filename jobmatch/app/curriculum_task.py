"""The curriculum task: stage 1 over mining rounds (incremental or combined), evaluated after each round
(``python -m jobmatch.curriculum``).

Round 0 trains on the data's negatives. Round k ≥ 1 mines with round k-1's best checkpoint, then
trains on round k's negatives only (incremental) or on the union of rounds 0..k (combined),
starting from round k-1's weights (``curriculum.init=previous``) or the base model (``base``).
``lineage.json`` records which checkpoint mined which negatives and which data trained which
checkpoint; a rerun with the same ``paths.run_dir`` skips every finished round, and is refused when
its config differs from the saved ``config.yaml``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from jobmatch.app.builders import build_loggers, log_results
from jobmatch.app.evaluate_task import evaluate
from jobmatch.app.mine_task import mine_file
from jobmatch.app.run_dir import resolve_run_dir
from jobmatch.app.schema.curriculum import CURRICULUM_MODES
from jobmatch.app.steps import step_config
from jobmatch.app.train_task import train
from jobmatch.app.validation import validate_config
from jobmatch.app.wandb_meta import pin_launch
from jobmatch.data.readers import read_contrastive, write_jsonl
from jobmatch.errors import UserError
from jobmatch.retrieval.mining import combine_rounds
from jobmatch.utils.run import write_results

log = logging.getLogger(__name__)
MODES = CURRICULUM_MODES


def round_train_file(cfg: DictConfig, root: Path, k: int, previous_file: str, ckpt: str) -> tuple[str, dict]:
    """Mine round k's negatives with ``ckpt``; the file round k trains on, and the mining stats."""
    mined = root / f"round{k}" / "mined.jsonl"
    stats = mine_file(cfg, ckpt, str(cfg.data.train_file), mined, k)
    if cfg.curriculum.mode == "incremental":
        return str(mined), stats
    union = combine_rounds(read_contrastive(previous_file), read_contrastive(mined))
    combined = root / f"round{k}" / "train.jsonl"
    write_jsonl(combined, (r.to_json() for r in union))
    return str(combined), stats


def round_checkpoint(cfg: DictConfig, train_dir: Path, best: str | None) -> tuple[str, str | None]:
    """The checkpoint a round hands on (to its evaluation, the next round's mining, the pipeline) and, when it
    is not the best one, why: a round that never validated wrote no ``best.ckpt``, so its ``last.ckpt`` is
    used, explicitly. Raises :class:`UserError` when the round left neither."""
    if best:
        return best, None
    last = train_dir / "checkpoints" / "last.ckpt"
    cause = (f"trainer.max_steps={cfg.trainer.max_steps} ends before the first validation"
             if int(cfg.trainer.get("max_steps") or -1) > 0 else "no validation ran")
    if not last.exists():
        raise UserError(f"{train_dir}: stage 1 wrote neither best.ckpt nor last.ckpt ({cause}); fix: train at "
                        "least one epoch (raise trainer.max_steps or set it to -1)")
    note = f"never validated ({cause}): its last.ckpt is used in place of a best.ckpt"
    log.warning("%s: %s", train_dir, note)
    return str(last), note


def curriculum(cfg: DictConfig) -> dict[str, Any]:
    """Run every round, evaluating after each; resume from the last finished round."""
    validate_config(cfg)
    if cfg.curriculum.mode not in MODES:
        raise ValueError(f"curriculum.mode='{cfg.curriculum.mode}' is not one of {MODES}")
    if cfg.curriculum.mode == "incremental" and int(cfg.mining.n_negatives) < int(cfg.data.n_negatives):
        raise ValueError(f"mining.n_negatives={cfg.mining.n_negatives} < data.n_negatives={cfg.data.n_negatives}: "
                         "incremental rounds train on mined negatives only; mine at least as many as are drawn")
    pin_launch(cfg, "curriculum")  # every round's runs join the curriculum's W&B group
    root = resolve_run_dir(cfg, check=True)  # finished rounds: same config only
    lineage_path = root / "lineage.json"
    lineage: list[dict[str, Any]] = json.loads(lineage_path.read_text()) if lineage_path.exists() else []
    train_file, ckpt = str(cfg.data.train_file), None
    rounds = 0 if cfg.curriculum.mode == "none" else int(cfg.curriculum.rounds)
    results: dict[str, Any] = {}
    for k in range(rounds + 1):
        if k < len(lineage):  # finished before an interruption
            entry = lineage[k]
            log.info("round %d already done (%s)", k, entry["checkpoint"])
        else:
            entry = {"round": k, "mined_with": ckpt, "mining": None}
            if k > 0:
                train_file, entry["mining"] = round_train_file(cfg, root, k, train_file, ckpt)  # type: ignore[arg-type]
            init = ckpt if (k > 0 and cfg.curriculum.init == "previous") else None
            overrides: dict[str, Any] = {"data.train_file": train_file, "stage.init_ckpt": init}
            if k > 0 and cfg.curriculum.get("later_epochs"):
                overrides["trainer.max_epochs"] = int(cfg.curriculum.later_epochs)
            fit = train(step_config(cfg, "train", root / f"round{k}" / "train", **overrides))
            best, note = round_checkpoint(cfg, root / f"round{k}" / "train", fit.get("checkpoint/best"))
            baselines = list(cfg.eval.baselines) if k == 0 else []
            scores = evaluate(step_config(cfg, "evaluate", root / f"round{k}" / "eval", ckpt=best,
                                         **{"eval.baselines": baselines}))
            entry.update({"train_file": train_file, "init_from": init, "checkpoint": best,
                          "checkpoint_note": note, "metrics": {key: v for key, v in scores.items() if "/" in key}})
            lineage.append(entry)
            lineage_path.write_text(json.dumps(lineage, indent=2) + "\n")
        train_file, ckpt = entry["train_file"], entry["checkpoint"]
        for key, value in entry["metrics"].items():
            if key.startswith(("test/", "test_ood/", "base/", "bm25/")):
                results[key if k == 0 and not key.startswith("test") else f"round{k}/{key}"] = value
    final = lineage[-1]["metrics"]
    results.update({f"final/{key[5:]}": v for key, v in final.items() if key.startswith("test/")})
    results.update({f"final/{key}": v for key, v in final.items() if key.startswith("test_ood/")})
    write_results(root, results)
    log_results(cfg, build_loggers(cfg, "curriculum"), results, root)
    return results
