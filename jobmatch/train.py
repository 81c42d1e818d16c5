"""Hydra entry point: train one stage.  ``python -m jobmatch.train stage=contrastive data.train_file=PATH``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from jobmatch.app.validation import validate_config
from jobmatch.data.datamodule import PairDataModule
from jobmatch.data.prepare import prepare_data
from jobmatch.errors import ConfigError
from jobmatch.losses import validate_preference_options
from jobmatch.model.checkpoint import MissingCheckpointError, check_checkpoint, inspect_checkpoint
from jobmatch.model.loading import read_checkpoint
from jobmatch.modules.contrastive import ContrastiveModule
from jobmatch.modules.rankpo import INIT_FIX, RANKPO_OPTIONS, RankPOModule, stage2_model_config
from jobmatch.modules.reference import ReferenceCache, ReferenceScores
from jobmatch.modules.resume_settings import ConfigOptimizerOnResume
from jobmatch.report.objective import objective_value
from jobmatch.retrieval.encode import EmbeddingCache
from jobmatch.retrieval.encoder_eval import EncodeSettings
from jobmatch.retrieval.preference_eval import evaluate_preference_run
from jobmatch.retrieval.validation import RetrievalValidation
from jobmatch.utils.error_report import hydra_command
from jobmatch.utils.rng import RngStateCallback
from jobmatch.utils.run import (
    finish_wandb,
    fix_run_dir,
    peak_memory_mb,
    resolve_run_dir,
    task_wrapper,
    to_float,
    use_hydra_run_dir,
    write_results,
)
from jobmatch.utils.run_config import check_rerun
from jobmatch.utils.wandb_meta import apply_wandb_meta, is_wandb
from jobmatch.utils.writable import check_writable_folders, training_output_folders

log = logging.getLogger(__name__)
TRAIN_KEYS = ("seed", "model", "data", "stage", "trainer", "eval")  # what a training run reads


def container(node: Any) -> dict[str, Any]:
    """A config node as plain Python containers (what hyperparameters may hold)."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else {}  # type: ignore[return-value]


def build_datamodule(cfg: DictConfig) -> PairDataModule:
    """The DataModule of the configured data and model (generating synthetic data if needed)."""
    prepare_data(cfg.data)
    mode = str(cfg.stage.get("data_mode", "contrastive"))
    model = container(cfg.model)
    if mode == "preference":  # tokenise as the stage-1 checkpoint was trained
        model = stage2_model_config(cfg.stage.get("init_ckpt"), model)
    return PairDataModule(model=model, seed=int(cfg.seed), mode=mode, **container(cfg.data))


def build_module(cfg: DictConfig) -> L.LightningModule:
    """The LightningModule of the configured stage."""
    stage = cfg.stage
    if stage.name == "contrastive":
        return ContrastiveModule(
            model=container(cfg.model),
            optim=container(stage.optim),
            temperature=float(stage.temperature),
            in_batch_negatives=bool(stage.in_batch_negatives),
            init_ckpt=stage.get("init_ckpt"),
            chunk_size=stage.get("chunk_size"),
            chunk_recompute=bool(stage.get("chunk_recompute", True)),
        )
    if stage.get("module") == "rankpo":  # stage 2: rankpo, rankpo_hinge, simrankpo, simrankpo_hinge, sft
        options = {key: stage[key] for key in RANKPO_OPTIONS}
        validate_preference_options(options, lora_enabled=bool(cfg.model.lora.enabled))
        return RankPOModule.from_stage1(stage.get("init_ckpt"), container(cfg.model), optim=container(stage.optim),
                                        **options)
    raise ValueError(f"unknown stage.name '{stage.name}'; available: contrastive, or stage.module=rankpo")


def build_loggers(cfg: DictConfig) -> list[Any]:
    """Instantiate every logger of the ``logger`` group (none is fine); W&B gets a derived group and tags."""
    loggers = []
    for node in (cfg.get("logger") or {}).values():
        if node is not None and "_target_" in node:
            extra = apply_wandb_meta(node, cfg) if is_wandb(node) else {}  # group/tags from the config
            loggers.append(hydra.utils.instantiate(node, **extra))
    return loggers


def log_results(loggers: list[Any], results: dict[str, Any]) -> None:
    """Send the numeric entries of a run's results to its loggers (W&B, CSV), flush them and close
    the W&B run, so that the next step of a curriculum or pipeline opens a run of its own."""
    numeric = {k: v for k, v in results.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    for logger in loggers:
        logger.log_metrics(numeric)
        logger.save()
    finish_wandb()


def build_callbacks(
    cfg: DictConfig, run_dir: Path, datamodule: PairDataModule, has_logger: bool
) -> list[Callback]:
    """Retrieval validation, the best (on the stage's metric) and last checkpoints and the LR monitor."""
    has_val = datamodule.val_set is not None
    monitor = cfg.stage.monitor if has_val else "train/loss"
    callbacks: list[Callback] = []
    if datamodule.val_retrieval is not None:
        callbacks.append(RetrievalValidation(
            datamodule.val_retrieval,
            cutoffs=tuple(cfg.eval.val_cutoffs),
            max_query_length=int(cfg.data.max_query_length),
            max_passage_length=int(cfg.data.max_passage_length),
            batch_size=int(cfg.eval.batch_size),
            bf16=bool(cfg.eval.bf16),
            cache=EmbeddingCache(Path(cfg.paths.cache_dir) / "embeddings") if cfg.eval.cache else None,
        ))
    if cfg.stage.get("module") == "rankpo" and cfg.stage.reference == "frozen":
        callbacks.append(ReferenceScores(ReferenceCache(Path(cfg.paths.cache_dir) / "reference"), EncodeSettings(
            max_query_length=int(cfg.data.max_query_length),
            max_passage_length=int(cfg.data.max_passage_length),
            batch_size=int(cfg.eval.batch_size),
            bf16="bf16" in str(cfg.trainer.precision),  # the training precision: the same scores as online
        )))
    callbacks += [
        ModelCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="best",
            monitor=monitor,
            mode=cfg.stage.monitor_mode if has_val else "min",
            save_top_k=1,
            enable_version_counter=False,
        ),
        *last_checkpoints(run_dir / "checkpoints", (cfg.get("checkpoint") or {}).get("every_n_steps")),
        RngStateCallback(),
    ]
    if has_logger:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    return callbacks


def last_checkpoints(folder: Path, every_n_steps: int | None) -> list[ModelCheckpoint]:
    """Writers of ``folder/last.ckpt`` at every epoch end and, with ``every_n_steps``, every N optimiser
    steps, whatever the monitored metric does (``save_last`` of the best checkpoint only follows it)."""
    common: dict[str, Any] = dict(dirpath=folder, filename="last", monitor=None, save_top_k=1,
                                  enable_version_counter=False)
    writers = [ModelCheckpoint(**common, every_n_epochs=1)]
    if every_n_steps:
        if int(every_n_steps) < 1:
            raise ConfigError(f"checkpoint.every_n_steps={every_n_steps}: must be a positive number of steps; "
                              "fix: use e.g. 500, or null for epoch ends only")
        writers.append(ModelCheckpoint(**common, every_n_train_steps=int(every_n_steps)))
    return writers


def run_module_kind(cfg: DictConfig) -> str | None:
    """The LightningModule of the configured stage: ``contrastive``, ``rankpo`` or None (unknown)."""
    if cfg.stage.name == "contrastive":
        return "contrastive"
    return "rankpo" if cfg.stage.get("module") == "rankpo" else None


def resolve_ckpt_path(cfg: DictConfig, run_dir: Path) -> str | None:
    """The checkpoint to resume from: explicit path, ``last``, or the run dir's last one if present.

    The file is checked before anything loads (metadata only): an unreadable file, or one of another
    stage or model, raises a one-line :class:`CheckpointError`.
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
    module = run_module_kind(cfg)
    model = container(cfg.model)
    if module == "rankpo":  # stage 2 trains the architecture of its stage-1 checkpoint
        model = stage2_model_config(cfg.stage.get("init_ckpt"), model)
    check_checkpoint(path, option, model=model, module=module, stage_name=str(cfg.stage.name), fix=fix)
    return str(path)


def check_before_loading(cfg: DictConfig, run_dir: Path) -> None:
    """Refuse now, in one line, what would otherwise fail after the model loads or an epoch ran: an
    output or cache folder that cannot be written, a checkpoint of another stage or model to resume
    from, or a stage-1 ``stage.init_ckpt`` whose weights do not fit ``model``."""
    check_writable_folders(training_output_folders(cfg, run_dir))
    init = cfg.stage.get("init_ckpt")
    if init and run_module_kind(cfg) == "contrastive":  # its weights load into model=...
        check_checkpoint(init, "stage.init_ckpt", model=container(cfg.model),
                         fix="set stage.init_ckpt to a checkpoint of this model, or null")
    elif init:  # stage 2 adopts the checkpoint's architecture: it need only be a readable jobmatch checkpoint
        inspect_checkpoint(init, fix=INIT_FIX)
    resolve_ckpt_path(cfg, run_dir)


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
    return evaluate_preference_run(cfg, module.encoder, module.stage1_encoder, rset, pairs, out_dir=run_dir,
                                   ood=datamodule.test_ood_retrieval() if has_split else None)


def finished_run(cfg: DictConfig) -> dict[str, Any] | None:
    """The saved results when ``paths.run_dir`` holds a finished run of this very config (no resume
    from an explicit ``ckpt_path`` asked); refuses a changed config that is not allowed."""
    run_dir = fix_run_dir(cfg)
    saved = run_dir / "results.json"
    if not saved.exists() or cfg.get("ckpt_path") not in (None, "last") or check_rerun(cfg, run_dir, TRAIN_KEYS):
        return None
    log.info("%s already holds this finished run: kept, not retrained (a new paths.run_dir trains anew)", run_dir)
    return json.loads(saved.read_text())


def train(cfg: DictConfig) -> dict[str, Any]:
    """Build datamodule → module → callbacks → loggers → trainer, fit, write ``results.json``.

    A rerun into a run dir with another config is refused (``resume.allow_changes``: applied); a
    finished run with the same config is not retrained: its saved results are returned."""
    validate_config(cfg)
    if (finished := finished_run(cfg)) is not None:
        return finished
    run_dir = resolve_run_dir(cfg, check=True, keys=TRAIN_KEYS)
    check_before_loading(cfg, run_dir)
    L.seed_everything(int(cfg.seed), workers=True)
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    module = build_module(cfg)
    loggers = build_loggers(cfg)
    callbacks = [*build_callbacks(cfg, run_dir, datamodule, bool(loggers)), ConfigOptimizerOnResume()]
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, default_root_dir=str(run_dir)
    )
    for lg in loggers:
        lg.log_hyperparams(container(cfg))
    ckpt_path = resolve_ckpt_path(cfg, run_dir)
    if ckpt_path:
        log.info("resuming from %s", ckpt_path)
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
    if checkpoint is not None and checkpoint.best_model_path:
        results["checkpoint/best"] = checkpoint.best_model_path
        results["checkpoint/best_score"] = to_float(checkpoint.best_model_score)
    if cfg.stage.get("evaluate", False) and trainer.is_global_zero:
        best = results.get("checkpoint/best")
        results.update(evaluate_stage2(cfg, module, datamodule, best, run_dir))  # type: ignore[arg-type]
        log_results(loggers, results)
    if trainer.is_global_zero:
        write_results(run_dir, results)
        log.info("results written to %s", run_dir / "results.json")
    finish_wandb()  # each training run is its own W&B run, also inside a curriculum or pipeline
    return results


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Entry point; returns the float a sweeper optimises: ``objective`` (null: the monitored metric)."""
    use_hydra_run_dir(cfg)
    results = task_wrapper(train)(cfg)
    return objective_value(results, cfg.get("objective"), default_key=str(cfg.stage.monitor))


if __name__ == "__main__":
    hydra_command(main)
