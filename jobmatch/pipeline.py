"""Hydra entry point: the whole method in one command, resumable step by step.

    python -m jobmatch.pipeline                       # the embedded default (make demo)
    python -m jobmatch.pipeline data=synthetic model=minilm stage@stage2=simrankpo
    python -m jobmatch.pipeline paths.run_dir=outputs/runs/pipeline/<time>   # resume after a stop

Steps, each in its own sub-directory of the run directory: ``stage1`` (the curriculum: round 0 and
``curriculum.rounds`` mining rounds, evaluated after each), ``annotate`` (the final stage-1 model
ranks, the judge labels pairs), ``stage2`` (RankPO from the stage-1 checkpoint, evaluated for
retention and alignment against it), then ``results.json``, ``report.md`` and a plot. A step whose
``results.json`` exists is skipped, if it was made with the same config (``step.json`` holds the
fingerprint of everything the step reads). A rerun whose config differs from the run directory's
``config.yaml``, or from a started step's fingerprint, stops before anything runs or is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf, open_dict

from jobmatch.app.validation import validate_config
from jobmatch.curriculum import curriculum, sub_config
from jobmatch.data.prepare import prepare_data
from jobmatch.errors import UserError
from jobmatch.report.objective import objective_value
from jobmatch.report.pipeline_summary import write_pipeline_report
from jobmatch.train import build_loggers, log_results
from jobmatch.utils.error_report import hydra_command
from jobmatch.utils.run import fix_run_dir, resolve_run_dir, task_wrapper, use_hydra_run_dir, write_results
from jobmatch.utils.run_config import IGNORED, check_rerun, covered, flatten

log = logging.getLogger(__name__)


class StepConfigMismatch(UserError, RuntimeError):
    """A finished step in the run directory was made with another configuration."""


def fingerprint(node: dict[str, Any]) -> str:
    """sha256 of a dict of config nodes and values, resolved, without the keys that change no result
    (progress bar, logging; ``run_config.IGNORED``), first 16 hex digits."""
    plain = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v for k, v in node.items()}
    text = json.dumps({k: v for k, v in flatten(plain).items() if not covered(k, IGNORED)}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_step(step_dir: Path, key: str) -> None:
    """Raise if the step started (``step.json``) or finished with a config other than ``key``."""
    results, meta = step_dir / "results.json", step_dir / "step.json"
    if not results.exists() and not meta.exists():
        return
    made_with = json.loads(meta.read_text()).get("fingerprint") if meta.exists() else None
    if made_with != key:
        raise StepConfigMismatch(
            f"{step_dir}: holds a step made with another config (fingerprint {made_with}, now {key}); "
            "use a new paths.run_dir, or delete that step directory to redo it")


def done(step_dir: Path, key: str) -> dict[str, Any] | None:
    """The step's results when it finished with config ``key``; raise if it started with another."""
    check_step(step_dir, key)
    results = step_dir / "results.json"
    if not results.exists():
        return None
    log.info("step %s already done: skipped", step_dir.name)
    return json.loads(results.read_text())


def mark(step_dir: Path, key: str) -> None:
    """Record the config fingerprint of a step that is starting."""
    step_dir.mkdir(parents=True, exist_ok=True)
    (step_dir / "step.json").write_text(json.dumps({"fingerprint": key}) + "\n")


def stage1_key(cfg: DictConfig) -> str:
    """Fingerprint of what the curriculum reads."""
    return fingerprint({k: cfg[k] for k in ("model", "data", "stage", "trainer", "mining", "curriculum", "eval",
                                            "seed")})


def annotate_key(cfg: DictConfig, ckpt: str) -> str:
    """Fingerprint of what the annotation reads."""
    return fingerprint({"ckpt": ckpt, "annotate": cfg.annotate, "judge": cfg.judge, "data": cfg.data,
                        "eval": cfg.eval, "model": cfg.model, "seed": cfg.seed})


def stage2_key(sub: DictConfig, pairs: Path) -> str:
    """Fingerprint of what stage 2 (training and its evaluation) reads, from its training config."""
    read = {k: sub[k] for k in ("model", "data", "stage", "trainer", "eval", "seed")}
    return fingerprint(read | {"pairs": str(pairs)})


def audit_key(cfg: DictConfig, checkpoints: dict[str, str]) -> str:
    """Fingerprint of what the audit step reads."""
    return fingerprint({"checkpoints": checkpoints, "fairness": cfg.fairness, "judge": cfg.judge, "data": cfg.data,
                        "eval": cfg.eval, "model": cfg.model, "seed": cfg.seed})


def audited_checkpoints(stage1_ckpt: str, stage2: dict[str, Any], root: Path) -> dict[str, str]:
    """The stage-1 checkpoint and the stage-2 one its evaluation used (best, else last)."""
    return {"stage1": stage1_ckpt,
            "stage2": str(stage2.get("checkpoint/best") or root / "stage2" / "checkpoints" / "last.ckpt")}


def check_steps(cfg: DictConfig, root: Path) -> None:
    """Refuse, before anything runs, a rerun that would continue or reuse a step made with another config."""
    check_step(root / "stage1", stage1_key(cfg))
    lineage = root / "stage1" / "lineage.json"
    if not (root / "stage1" / "results.json").exists() or not lineage.exists():
        return
    ckpt = json.loads(lineage.read_text())[-1]["checkpoint"]
    pairs = root / "annotate"
    check_step(pairs, annotate_key(cfg, ckpt))
    check_step(root / "stage2", stage2_key(stage2_config(cfg, root, ckpt, pairs), pairs))
    if cfg.fairness.enabled and (root / "stage2" / "results.json").exists():
        stage2 = json.loads((root / "stage2" / "results.json").read_text())
        check_step(root / "audit", audit_key(cfg, audited_checkpoints(ckpt, stage2, root)))


def stage1_step(cfg: DictConfig, root: Path) -> dict[str, Any]:
    """The curriculum (resumable by itself); returns its results and the final checkpoint."""
    step = root / "stage1"
    key = stage1_key(cfg)
    if (found := done(step, key)) is None:
        mark(step, key)
        found = curriculum(sub_config(cfg, step))
    lineage = json.loads((step / "lineage.json").read_text())
    return {**found, "checkpoint": lineage[-1]["checkpoint"]}


def annotate_step(cfg: DictConfig, root: Path, ckpt: str) -> Path:
    """Judged pairs from the stage-1 model's rankings; returns the step directory."""
    from jobmatch.annotate.pipeline import annotate

    step = root / "annotate"
    key = annotate_key(cfg, ckpt)
    if done(step, key) is None:
        mark(step, key)
        sub = sub_config(cfg, step, ckpt=ckpt)
        write_results(step, annotate(sub, resolve_run_dir(sub)))
    return step


def stage2_config(cfg: DictConfig, root: Path, ckpt: str, pairs: Path) -> DictConfig:
    """The stage-2 training config: ``stage2`` becomes the stage, ``trainer2`` patches the trainer."""
    sub = sub_config(cfg, root / "stage2", **{
        "data.preference_train_file": str(pairs / "preferences_train.jsonl"),
        "data.preference_val_file": str(pairs / "preferences_val.jsonl"),
        "data.preference_test_file": str(pairs / "preferences_test.jsonl"),
    })
    with open_dict(sub):
        sub.stage = cfg.stage2
        sub.stage.init_ckpt = ckpt
        patch = {k: v for k, v in (cfg.get("trainer2") or {}).items() if v is not None}
        sub.trainer = OmegaConf.merge(cfg.trainer, patch)
    return sub


def stage2_step(cfg: DictConfig, root: Path, ckpt: str, pairs: Path) -> dict[str, Any]:
    """RankPO (or the configured stage-2 method) from the stage-1 checkpoint, with its evaluation."""
    from jobmatch.train import train

    sub = stage2_config(cfg, root, ckpt, pairs)
    step = root / "stage2"
    key = stage2_key(sub, pairs)
    if (found := done(step, key)) is None:
        mark(step, key)
        found = train(sub)
    return found


def audit_step(cfg: DictConfig, root: Path, checkpoints: dict[str, str]) -> dict[str, Any]:
    """The fairness audit of the stage-1 and stage-2 models (``audit/<label>/``); results keyed by label."""
    from jobmatch.audit import audit_checkpoint, audit_setup
    from jobmatch.data.identities import read_identities

    corpus = cfg.data.get("corpus_file")
    if not corpus or not read_identities(corpus).attributes:
        log.warning("fairness audit skipped: %s carries no group field per talent (gender, origin or group)",
                    corpus or "the data (no data.corpus_file)")
        return {}
    step = root / "audit"
    key = audit_key(cfg, checkpoints)
    if (found := done(step, key)) is None:
        mark(step, key)
        sub = sub_config(cfg, step)
        rset, identities = audit_setup(sub)
        per_model = {label: audit_checkpoint(sub, ckpt, rset, identities, step / label, label)
                     for label, ckpt in checkpoints.items()}
        found = {f"{label}/{k}": v for label, results in per_model.items() for k, v in results.items()}
        write_results(step, found)
    return found


def pipeline(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume) every step; write the combined results and the report."""
    validate_config(cfg)
    check_rerun(cfg, fix_run_dir(cfg))
    check_steps(cfg, fix_run_dir(cfg))
    root = resolve_run_dir(cfg, check=True)
    prepare_data(cfg.data)
    stage1 = stage1_step(cfg, root)
    pairs = annotate_step(cfg, root, stage1["checkpoint"])
    stage2 = stage2_step(cfg, root, stage1["checkpoint"], pairs)
    annotation = json.loads((pairs / "results.json").read_text())
    results = {
        **{f"stage1/{k}": v for k, v in stage1.items() if k.startswith(("final/", "bm25/", "base/"))},
        **{k: v for k, v in stage2.items() if k.startswith(("test/", "test_ood/", "stage1/", "delta/"))},
        **{k: v for k, v in annotation.items() if k.startswith("annotate/")},
    }
    if cfg.fairness.enabled:  # stage 1 under stage1/audit/…, stage 2 under audit/…, as the other keys
        audited = audit_step(cfg, root, audited_checkpoints(stage1["checkpoint"], stage2, root))
        results |= {(k.removeprefix("stage2/") if k.startswith("stage2/") else k): v for k, v in audited.items()}
    write_results(root, results)
    log_results(build_loggers(cfg), results)
    table = write_pipeline_report(root, results, stage2_name=str(cfg.stage2.name))
    print(table)
    return results


@hydra.main(config_path="../conf", config_name="pipeline", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Entry point; returns ``objective`` (null: the stage-2 test alignment) for sweepers."""
    use_hydra_run_dir(cfg)
    return objective_value(task_wrapper(pipeline)(cfg), cfg.get("objective"), default_key="test/alignment")


if __name__ == "__main__":
    hydra_command(main)
