"""Training pieces for benchmarks: compose the real config tree, train a few timed steps.

Benchmarks time the project's own training path (``jobmatch.app``'s datamodule, module and
trainer construction) rather than a re-implementation, minus what a timing run does not need:
checkpoints, loggers, in-training validation.

    cfg = compose(["model=minilm", "data=synthetic_small", "trainer.max_steps=5"], run_dir)
    out = train_steps(cfg)   # {"step_s": [...], "module": ..., "datamodule": ...}
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from experiments.benchmarks.common import rss_mb
from jobmatch.app.config_tree import compose_tree

ROOT = Path(__file__).resolve().parents[2]

# Overrides every benchmark run shares: no logger, checkpoint, progress bar or in-training validation.
QUIET = [
    "logger=none",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.enable_checkpointing=false",
    "trainer.limit_val_batches=0",
    "trainer.log_every_n_steps=1000",
]


def compose(overrides: Sequence[str], run_dir: str | Path) -> DictConfig:
    """``conf/train.yaml`` composed as the entry point does, with :data:`QUIET` and ``overrides``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    run_dir = Path(run_dir)
    paths = [f"paths.run_dir={run_dir}", f"paths.output_dir={ROOT / 'outputs'}"]
    return compose_tree("train", [*QUIET, *overrides, *paths])


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class StepTimer(Callback):
    """Wall time of every training step (batch start to batch end, optimizer step included)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_train_batch_start(self, *args: Any) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args: Any) -> None:
        self.times.append(time.perf_counter() - self._start)


def train_steps(
    cfg: DictConfig,
    module_factory: Callable[[DictConfig], L.LightningModule] | None = None,
) -> dict[str, Any]:
    """Fit ``cfg.trainer.max_steps`` steps through ``jobmatch.app.builders`` and time each step.

    Args:
        cfg: from :func:`compose`.
        module_factory: builds the LightningModule from ``cfg``; default ``jobmatch.app.builders.build_module``.
    Returns:
        ``step_s`` (seconds per step, all of them), ``setup_s`` (imports excluded: data, model,
        trainer construction and fit start-up), ``rss_mb`` checkpoints (``after_data``,
        ``after_model``), ``peak_rss_mb``, and the ``module``, ``datamodule`` objects.
    """
    import jobmatch.app.builders as entry
    from jobmatch.app.callbacks import build_callbacks
    from jobmatch.modules.reference import ReferenceScores

    start = time.perf_counter()
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    datamodule = entry.build_datamodule(cfg)
    datamodule.setup("fit")
    rss = {"after_data": rss_mb()}
    module = (module_factory or entry.build_module)(cfg)
    rss["after_model"] = rss_mb()
    # Only what training itself needs: the frozen reference scores (RankPO); no checkpoint or validation.
    needed = [
        c
        for c in build_callbacks(cfg, Path(cfg.paths.run_dir), datamodule, False)
        if isinstance(c, ReferenceScores)
    ]
    timer = StepTimer()
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=[*needed, timer], logger=False, default_root_dir=str(cfg.paths.run_dir)
    )
    trainer.fit(module, datamodule=datamodule)
    total = time.perf_counter() - start
    return {
        "step_s": timer.times,
        "setup_s": total - sum(timer.times),
        "rss_mb": rss,
        "peak_rss_mb": peak_rss_mb(),
        "module": module,
        "datamodule": datamodule,
    }
