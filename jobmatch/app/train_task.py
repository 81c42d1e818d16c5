"""The training task: one stage, from its config (``python -m jobmatch.train``)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig

from jobmatch.app.builders import (
    build_datamodule,
    build_loggers,
    build_module,
    container,
    embedding_cache,
    encode_settings,
    eval_device,
    log_results,
    model_config,
    retrieval_options,
    stage_module_kind,
    wandb_option,
    wandb_runs,
)
from jobmatch.app.callbacks import build_callbacks
from jobmatch.app.run_config import check_rerun
from jobmatch.app.run_dir import check_writable_options, fix_run_dir, resolve_run_dir
from jobmatch.app.validation import validate_config
from jobmatch.app.wandb_meta import pin_launch, task_config
from jobmatch.data.datamodule import PairDataModule
from jobmatch.model.checkpoint import CheckpointError, MissingCheckpointError, check_checkpoint, inspect_checkpoint
from jobmatch.model.checkpoint_io import checkpoint_plugins
from jobmatch.model.loading import read_checkpoint
from jobmatch.modules.rankpo import RankPOModule
from jobmatch.modules.resume_settings import ConfigOptimizerOnResume
from jobmatch.retrieval.preference_eval import evaluate_preference_run
from jobmatch.utils.run import finish_wandb, parameter_counts, peak_memory_mb, to_float, write_results
from jobmatch.utils.wandb_upload import upload_checkpoints
from jobmatch.utils.writable import populated

log = logging.getLogger(__name__)
INIT_FIX = "set stage.init_ckpt to a stage-1 checkpoint (<run_dir>/checkpoints/best.ckpt), or null for the base model"


def resolve_ckpt_path(cfg: DictConfig, run_dir: Path, stage1: dict[str, Any] | None = None) -> str | None:
    """The checkpoint to resume from: explicit path, ``last``, or the run dir's last one if present.

    The file is checked before anything loads (metadata only): an unreadable file, or one of another
    stage or model, raises a one-line :class:`CheckpointError`. ``stage1``: see :func:`check_before_loading`.
    """
    last = run_dir / "checkpoints" / "last.ckpt"
    wanted = cfg.get("ckpt_path")
    if not wanted and not last.exists():
        return None
    path = last if wanted in (None, "", "last") else Path(str(wanted))
    option = f"ckpt_path={wanted}" if wanted else "auto-resume (ckpt_path=null)"
    if path == last:  # the run's own last.ckpt: say how to get past a broken one
        fix = (f"delete it (rm {last}) to restart the run from scratch, or set ckpt_path to another checkpoint "
               f"(e.g. {last.with_name('best.ckpt')})")
    else:
        fix = "set ckpt_path to a checkpoint of this run's stage and model, or drop it to start afresh"
    if not path.exists():
        raise MissingCheckpointError(f"{path}: {option} names no file; fix: {fix}")
    check_checkpoint(path, option, model=model_config(cfg, stage1), module=stage_module_kind(cfg),
                     stage_name=str(cfg.stage.name), fix=fix,
                     init_option="stage.init_ckpt")
    check_resume_layout(path, option, cfg.trainer.get("strategy"))
    return str(path)


def check_resume_layout(path: Path, option: str, strategy: object) -> None:
    """A DeepSpeed checkpoint folder resumes only under a DeepSpeed strategy (it restores the sharded
    optimizer itself); other strategies read single files."""
    if path.is_dir() and "deepspeed" not in str(strategy or ""):
        raise CheckpointError(
            f"{path}: {option} is a DeepSpeed checkpoint folder but trainer.strategy={strategy}; fix: resume it "
            "with trainer=deepspeed, or start a new run from its weights (stage.init_ckpt)"
        )


def check_before_loading(cfg: DictConfig, run_dir: Path) -> dict[str, Any] | None:
    """Refuse now, in one line, what would otherwise fail after the model loads or an epoch ran: an
    output or cache folder that cannot be written, a checkpoint of another stage or model to resume
    from, or a stage-1 ``stage.init_ckpt`` whose weights do not fit ``model``.

    Returns the stage-1 checkpoint's model config of a stage-2 run (read here, once; None otherwise)."""
    check_writable_options(training_output_folders(cfg, run_dir))
    init = cfg.stage.get("init_ckpt")
    stage1 = None
    if init and stage_module_kind(cfg) == "contrastive":  # its weights load into model=...
        check_checkpoint(init, "stage.init_ckpt", model=container(cfg.model),
                         fix="set stage.init_ckpt to a checkpoint of this model, or null")
    elif init:  # stage 2 adopts the checkpoint's architecture: it need only be a readable jobmatch checkpoint
        stage1 = inspect_checkpoint(init, fix=INIT_FIX).model
    resolve_ckpt_path(cfg, run_dir, stage1)
    return stage1


def evaluate_stage2(
    cfg: DictConfig, module: RankPOModule, datamodule: PairDataModule, best_ckpt: str | None,
    run_dir: Path | None = None,
) -> dict[str, Any]:
    """End of a stage-2 run: retention and alignment of the run (``stage.eval_ckpt``: best or last
    weights) and of its stage-1 checkpoint, and the deltas."""
    if cfg.stage.get("eval_ckpt", "best") == "best" and best_ckpt:
        module.load_state_dict(read_checkpoint(best_ckpt)["state_dict"])
    has_split = bool(cfg.data.get("test_file") or cfg.data.get("val_file"))
    rset = datamodule.test_retrieval() if has_split else None
    pairs = datamodule.preferences.test if datamodule.preferences else []
    return evaluate_preference_run(module.encoder, module.stage1_encoder, rset, pairs, encode_settings(cfg),
                                   embedding_cache(cfg), device=eval_device(cfg), **retrieval_options(cfg),
                                   out_dir=run_dir, ood=datamodule.test_ood_retrieval() if has_split else None)


def finished_run(cfg: DictConfig) -> dict[str, Any] | None:
    """The saved results when ``paths.run_dir`` holds a finished run of this very config (no resume
    from an explicit ``ckpt_path`` asked); refuses a changed config that is not allowed."""
    run_dir = fix_run_dir(cfg)
    saved = run_dir / "results.json"
    if not saved.exists() or cfg.get("ckpt_path") not in (None, "last") or check_rerun(cfg, run_dir):
        return None
    log.info("%s already holds this finished run: kept, not retrained (a new paths.run_dir trains anew)", run_dir)
    return json.loads(saved.read_text())


def saved_results(run_dir: Path) -> dict[str, Any]:
    """The ``results.json`` a finished earlier fit left in ``run_dir`` (empty when there is none)."""
    path = run_dir / "results.json"
    return json.loads(path.read_text()) if path.exists() else {}


def kept_metrics(saved: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """``results`` of a fit, completed with the ``saved`` ones of the finished run it resumed when it added no
    step: the weights are those the saved ``train/*``, ``val/*`` and best-score metrics describe, and a fit
    that runs no step logs none of them again."""
    if not saved or saved.get("trainer/global_step") != results["trainer/global_step"]:
        return results
    log.info("the resumed run was already finished (step %d): its saved metrics are kept",
             results["trainer/global_step"])
    return saved | results


def train(cfg: DictConfig) -> dict[str, Any]:
    """Build datamodule → module → callbacks → loggers → trainer, fit, write ``results.json``.

    A rerun into a run dir with another config is refused (``resume.allow_changes``: applied); a
    finished run with the same config is not retrained: its saved results are returned."""
    validate_config(cfg)
    if (finished := finished_run(cfg)) is not None:
        return finished
    pin_launch(cfg, "train")
    run_dir = resolve_run_dir(cfg, check=True)
    stage1 = check_before_loading(cfg, run_dir)  # a stage-2 run reads its stage-1 model config here, once
    L.seed_everything(int(cfg.seed), workers=True)
    datamodule = build_datamodule(cfg, stage1)
    datamodule.setup("fit")
    module = build_module(cfg, stage1)
    loggers = build_loggers(cfg, "train")
    callbacks = [*build_callbacks(cfg, run_dir, datamodule, bool(loggers)), ConfigOptimizerOnResume()]
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, default_root_dir=str(run_dir),
        **({"plugins": plugins} if (plugins := checkpoint_plugins(cfg.trainer)) else {}),
    )
    counts = {"params": parameter_counts(module.encoder)}
    for lg in loggers:  # W&B got the run's config at init; the parameter counts are known only now
        lg.log_hyperparams(counts if isinstance(lg, WandbLogger) else {**task_config(cfg, "train"), **counts})
    ckpt_path = resolve_ckpt_path(cfg, run_dir, stage1)
    if ckpt_path:
        log.info("resuming from %s", ckpt_path)
    saved = saved_results(run_dir)
    start = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    results: dict[str, Any] = {k: v for k, v in ((k, to_float(v)) for k, v in trainer.callback_metrics.items())
                               if v is not None}
    checkpoint = next((c for c in callbacks if isinstance(c, ModelCheckpoint)), None)
    results.update({
        "time/fit_s": time.perf_counter() - start,
        "memory/peak_rss_mb": peak_memory_mb(),
        "trainer/global_step": trainer.global_step,
        "trainer/epochs": trainer.current_epoch,
    })
    results = kept_metrics(saved, results)
    if checkpoint is not None and checkpoint.best_model_path:
        results["checkpoint/best"] = checkpoint.best_model_path
        results["checkpoint/best_score"] = to_float(checkpoint.best_model_score)
    if cfg.stage.get("evaluate", False) and trainer.is_global_zero:
        best = results.get("checkpoint/best")
        results.update(evaluate_stage2(cfg, module, datamodule, best, run_dir))  # type: ignore[arg-type]
    if trainer.is_global_zero:
        write_results(run_dir, results)
        log.info("results written to %s", run_dir / "results.json")
        if wandb_option(cfg, "log_model"):
            for run in wandb_runs(loggers):
                upload_checkpoints(run, {"best": results.get("checkpoint/best"),
                                         "last": run_dir / "checkpoints" / "last.ckpt"})
        log_results(cfg, loggers, results, run_dir)  # the results row: every training run, stage 1 included
    finish_wandb()  # each training run is its own W&B run, also inside a curriculum or pipeline
    return results


def training_output_folders(cfg: DictConfig, run_dir: Path) -> dict[str, Path | None]:
    """The folders a training run writes: its run dir, the caches, and where synthetic data will be
    generated (None when the dataset is already there or the data are plain files)."""
    data = cfg["data"]
    generates = bool(data.get("synthetic")) and not populated(Path(str(data["dir"])))
    return {
        "paths.run_dir": run_dir,
        "paths.cache_dir": Path(str(cfg["paths"]["cache_dir"])),
        "paths.data_dir": Path(str(data["dir"])).parent if generates else None,
    }
