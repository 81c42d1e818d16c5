"""The pipeline task: the whole method in one command, resumable step by step (``python -m jobmatch.pipeline``).

Steps, each in its own sub-directory of the run directory: ``stage1`` (the curriculum: round 0 and
``curriculum.rounds`` mining rounds, evaluated after each), ``annotate`` (the final stage-1 model
ranks, the judge labels pairs), ``stage2`` (RankPO from the stage-1 checkpoint, evaluated for
retention and alignment against it), then ``results.json``, ``report.md`` and a plot. A step whose
``results.json`` exists is skipped, if it was made with the same config (``step.json`` holds the
fingerprint of everything the step reads). A rerun whose config differs from the run directory's
``config.yaml``, or from a started step's fingerprint, stops before anything runs or is rewritten, naming
the steps the change invalidates and the command that redoes them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from jobmatch.app.annotate_task import annotate
from jobmatch.app.audit_task import audit_checkpoint, audit_setup
from jobmatch.app.builders import build_loggers, container, log_results
from jobmatch.app.curriculum_task import curriculum
from jobmatch.app.rerun_advice import rerun_command
from jobmatch.app.run_config import allowed_changes, config_changes, covered, task_nodes
from jobmatch.app.run_dir import fix_run_dir, resolve_run_dir
from jobmatch.app.steps import StepConfigMismatch, done, mark, read_nodes, step_config, step_fingerprint
from jobmatch.app.train_task import train
from jobmatch.app.validation import validate_config
from jobmatch.app.wandb_meta import pin_launch, run_labels
from jobmatch.data.identities import read_identities
from jobmatch.data.prepare import prepare_data
from jobmatch.errors import ConfigError
from jobmatch.report.fairness_report import paired_deltas
from jobmatch.report.pipeline_summary import write_pipeline_report
from jobmatch.utils.run import write_results

__all__ = ["StepConfigMismatch", "done", "mark", "pipeline", "stage1_key", "stage2_config", "stage2_key"]
log = logging.getLogger(__name__)


def stage1_key(cfg: DictConfig) -> str:
    """Fingerprint of what the curriculum reads."""
    return step_fingerprint(read_nodes(cfg, "curriculum"))


def annotate_key(cfg: DictConfig, ckpt: str) -> str:
    """Fingerprint of what the annotation reads (its root's ``trainer`` is read only through the ``eval`` values
    that presets derive from it, which this holds resolved)."""
    return step_fingerprint({"ckpt": ckpt, "annotate": cfg.annotate, "judge": cfg.judge, "data": cfg.data,
                        "eval": cfg.eval, "model": cfg.model, "seed": cfg.seed})


def stage2_key(sub: DictConfig, pairs: Path) -> str:
    """Fingerprint of what stage 2 (training and its evaluation) reads, from its training config."""
    return step_fingerprint(read_nodes(sub, "train") | {"pairs": str(pairs)})


def audit_key(cfg: DictConfig, checkpoints: dict[str, str]) -> str:
    """Fingerprint of what the audit step reads (``trainer``: as in :func:`annotate_key`)."""
    return step_fingerprint({"checkpoints": checkpoints, "fairness": cfg.fairness, "judge": cfg.judge, "data": cfg.data,
                        "eval": cfg.eval, "model": cfg.model, "seed": cfg.seed})


def audited_checkpoints(stage1_ckpt: str, stage2: dict[str, Any], root: Path) -> dict[str, str]:
    """The stage-1 checkpoint and the stage-2 one its evaluation used (best, else last)."""
    return {"stage1": stage1_ckpt,
            "stage2": str(stage2.get("checkpoint/best") or root / "stage2" / "checkpoints" / "last.ckpt")}


STEPS = ("stage1", "annotate", "stage2", "audit")  # in order: each reads what the ones before it wrote


def current_key(cfg: DictConfig, root: Path, step: str) -> str | None:
    """The fingerprint ``step`` would have under ``cfg``, given the steps before it (None: they did not finish)."""
    if step == "stage1":
        return stage1_key(cfg)
    lineage = root / "stage1" / "lineage.json"
    if not (root / "stage1" / "results.json").exists() or not lineage.exists():
        return None
    ckpt, pairs = json.loads(lineage.read_text())[-1]["checkpoint"], root / "annotate"
    if step == "annotate":
        return annotate_key(cfg, ckpt)
    if step == "stage2":
        return stage2_key(stage2_config(cfg, root, ckpt, pairs), pairs)
    stage2 = root / "stage2" / "results.json"
    return audit_key(cfg, audited_checkpoints(ckpt, json.loads(stage2.read_text()), root)) if stage2.exists() else None


def stale_steps(cfg: DictConfig, root: Path) -> list[str]:
    """The started steps that ``cfg`` would not reuse: the first made with another config, and every later
    started one (it read that step's output)."""
    started = [s for s in STEPS if (s != "audit" or cfg.fairness.enabled)
               and ((root / s / "step.json").exists() or (root / s / "results.json").exists())]
    for i, step in enumerate(started):
        meta = root / step / "step.json"
        made_with = json.loads(meta.read_text()).get("fingerprint") if meta.exists() else None
        if made_with != current_key(cfg, root, step):
            return started[i:]
    return []


def check_steps(cfg: DictConfig, root: Path) -> None:
    """Refuse, before anything runs or is written, a rerun that would continue or reuse a step made with another
    config: one line naming the changed keys, the steps they invalidate, and the command that redoes them."""
    saved = root / "config.yaml"
    changes = config_changes(OmegaConf.load(saved), cfg, task_nodes(cfg)) if saved.exists() else []
    refused = [key for key, _, _ in changes if not covered(key, allowed_changes(cfg))]
    stale = stale_steps(cfg, root)
    if not refused and not stale:
        return
    listed = ", ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in changes)
    command = rerun_command("jobmatch.pipeline", root, [*allowed_changes(cfg), *refused], [root / s for s in stale])
    steps, them, were = (f"steps {', '.join(stale)}", "them", "were") if len(stale) > 1 else \
        (f"step {''.join(stale)}", "it", "was")
    if refused:
        invalid = f", which invalidates its {steps} (made with the old config)" if stale else ""
        raise ConfigError(f"paths.run_dir={root}: holds a run made with another config ({listed}){invalid}; use a "
                          f"new paths.run_dir, or {f'redo {them}' if stale else 'apply the change'} with: {command}")
    raise StepConfigMismatch(f"paths.run_dir={root}: its {steps} {were} made with another config"
                             + (f" ({listed})" if listed else "") + f"; use a new paths.run_dir, or redo {them} with: "
                             f"{command}")


def stage1_step(cfg: DictConfig, root: Path) -> dict[str, Any]:
    """The curriculum (resumable by itself); returns its results and the final checkpoint."""
    step = root / "stage1"
    key = stage1_key(cfg)
    if (found := done(step, key)) is None:
        mark(step, key)
        found = curriculum(step_config(cfg, "curriculum", step))
    lineage = json.loads((step / "lineage.json").read_text())
    return {**found, "checkpoint": lineage[-1]["checkpoint"], "checkpoint_note": lineage[-1].get("checkpoint_note")}


def annotate_step(cfg: DictConfig, root: Path, ckpt: str) -> Path:
    """Judged pairs from the stage-1 model's rankings; returns the step directory."""
    step = root / "annotate"
    key = annotate_key(cfg, ckpt)
    if done(step, key) is None:
        mark(step, key)
        sub = step_config(cfg, "annotate", step, ckpt=ckpt)
        found = annotate(sub, resolve_run_dir(sub))
        write_results(step, found)
        log_results(sub, build_loggers(sub, "annotate"), found, step)
    return step


def stage2_config(cfg: DictConfig, root: Path, ckpt: str, pairs: Path) -> DictConfig:
    """The stage-2 training config (the train task's nodes): ``stage2`` becomes the stage, ``trainer2`` patches
    the trainer."""
    sub = step_config(cfg, "train", root / "stage2", **{
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
    sub = stage2_config(cfg, root, ckpt, pairs)
    step = root / "stage2"
    key = stage2_key(sub, pairs)
    if (found := done(step, key)) is None:
        mark(step, key)
        found = train(sub)
    return found


def audit_step(cfg: DictConfig, root: Path, checkpoints: dict[str, str]) -> dict[str, Any]:
    """The fairness audit of the stage-1 and stage-2 models (``audit/<label>/``); results keyed by label, and
    their paired differences (stage 2 − stage 1) under ``delta/audit/…``."""
    corpus = cfg.data.get("corpus_file")
    if not corpus or not read_identities(corpus).attributes:
        log.warning("fairness audit skipped: %s carries no group field per talent (gender, origin or group)",
                    corpus or "the data (no data.corpus_file)")
        return {}
    step = root / "audit"
    key = audit_key(cfg, checkpoints)
    if (found := done(step, key)) is None:
        mark(step, key)
        sub = step_config(cfg, "audit", step)
        rset, identities = audit_setup(sub)
        per_model = {label: audit_checkpoint(sub, ckpt, rset, identities, step / label, label)
                     for label, ckpt in checkpoints.items()}
        found = {f"{label}/{k}": v for label, results in per_model.items() for k, v in results.items()}
        write_results(step, found)
        # one W&B run for both models, labelled as the pipeline (the stage-2 model against its stage-1 start)
        log_results(sub, build_loggers(sub, "audit", run_labels(cfg, "pipeline")), found, step, tuple(checkpoints))
    deltas = paired_deltas([step / "stage1", step / "stage2"], k=max(int(k) for k in cfg.fairness.ks),
                           n_bootstrap=int(cfg.fairness.n_bootstrap))
    return found | {f"delta/{k}": v for delta in deltas.values() for k, v in delta.items()}


def checkpoint_notes(stage1: dict[str, Any], stage2: dict[str, Any]) -> dict[str, str]:
    """Which model each stage's figures describe, where it is not the stage's best checkpoint."""
    notes = {}
    if stage1.get("checkpoint_note"):
        notes["stage1"] = f"Stage 1 {stage1['checkpoint_note']} ({stage1['checkpoint']}); that model was mined " \
                          "with, ranked for the judge, trained from by stage 2 and evaluated as stage 1."
    if not stage2.get("checkpoint/best"):
        notes["stage2"] = "Stage 2 never validated (no best checkpoint): its last weights are evaluated."
    return notes


def pipeline(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume) every step; write the combined results and the report."""
    validate_config(cfg)
    pin_launch(cfg, "pipeline")  # every step's runs join the pipeline's W&B group
    check_steps(cfg, fix_run_dir(cfg))
    root = resolve_run_dir(cfg, check=True)
    prepare_data(container(cfg.data))
    stage1 = stage1_step(cfg, root)
    pairs = annotate_step(cfg, root, stage1["checkpoint"])
    stage2 = stage2_step(cfg, root, stage1["checkpoint"], pairs)
    annotation = json.loads((pairs / "results.json").read_text())
    results = {
        **{f"stage1/{k}": v for k, v in stage1.items() if k.startswith(("final/", "bm25/", "base/"))},
        **{k: v for k, v in stage2.items() if k.startswith(("test/", "test_ood/", "stage1/", "delta/"))},
        **{k: v for k, v in annotation.items() if k.startswith(("annotate/", "judge/"))},
    }
    if cfg.fairness.enabled:  # stage 1 under stage1/audit/…, stage 2 under audit/…, as the other keys
        audited = audit_step(cfg, root, audited_checkpoints(stage1["checkpoint"], stage2, root))
        results |= {(k.removeprefix("stage2/") if k.startswith("stage2/") else k): v for k, v in audited.items()}
    write_results(root, results)
    lines = OmegaConf.to_container(cfg.acceptance, resolve=True) if cfg.get("acceptance") else None
    notes = checkpoint_notes(stage1, stage2)
    table = write_pipeline_report(root, results, stage2_name=str(cfg.stage2.name), lines=lines, notes=notes)
    log_results(cfg, build_loggers(cfg, "pipeline"), results, root)  # after the report: log_files uploads it
    print(table)
    return results
