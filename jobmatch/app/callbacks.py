"""The callbacks of a training run, from its config: retrieval validation, reference scores, checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from omegaconf import DictConfig

from jobmatch.app.builders import embedding_cache, encode_settings, stage_module_kind
from jobmatch.data.datamodule import PairDataModule
from jobmatch.errors import ConfigError
from jobmatch.modules.reference import ReferenceCache, ReferenceScores
from jobmatch.retrieval.validation_callback import RetrievalValidation
from jobmatch.utils.rng import RngStateCallback


def build_callbacks(
    cfg: DictConfig, run_dir: Path, datamodule: PairDataModule, has_logger: bool
) -> list[Callback]:
    """Retrieval validation, the best (on the stage's metric) and last checkpoints and the LR monitor."""
    has_val = datamodule.val_set is not None
    monitor = cfg.stage.monitor if has_val else "train/loss"
    callbacks: list[Callback] = []
    if datamodule.val_retrieval is not None:
        settings = encode_settings(cfg)
        callbacks.append(RetrievalValidation(
            datamodule.val_retrieval,
            cutoffs=tuple(cfg.eval.val_cutoffs),
            max_query_length=settings.max_query_length,
            max_passage_length=settings.max_passage_length,
            batch_size=settings.batch_size,
            bf16=settings.bf16,
            cache=embedding_cache(cfg),
        ))
    if stage_module_kind(cfg) == "rankpo" and cfg.stage.reference == "frozen":
        # the training precision, not eval.bf16: the same scores as the online reference would give
        settings = encode_settings(cfg, bf16="bf16" in str(cfg.trainer.precision))
        callbacks.append(ReferenceScores(ReferenceCache(Path(cfg.paths.cache_dir) / "reference"), settings))
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
