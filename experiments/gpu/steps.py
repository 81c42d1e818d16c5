"""Timed training steps of jobmatch's own LightningModules through a Lightning Trainer, on prebuilt batches.

Stage 1: :class:`ContrastiveModule` (InfoNCE, in-batch negatives) on :class:`ContrastiveCollator` batches of
B JDs x (1 positive + n negatives). Stage 2: :class:`RankPOModule` (frozen reference, its scores installed)
on :class:`PreferenceCollator` batches of B judged pairs, each with its own JD. Every step is a real
Lightning step (autocast, backward, gradient clipping, AdamW); the clock runs from batch start to batch end
with the device synchronised, after the warm-up steps.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from experiments.benchmarks.common import dense_params, sequence_flops
from experiments.gpu.shapes import Shapes, random_ids
from jobmatch.data.collate import ContrastiveCollator
from jobmatch.data.preferences import PreferenceCollator
from jobmatch.modules.contrastive import ContrastiveModule
from jobmatch.modules.rankpo import RankPOModule


class StepClock(Callback):
    """Seconds of every training step (device synchronised at both ends)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def _sync(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def on_train_batch_start(self, *args: Any) -> None:
        self._sync()
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args: Any) -> None:
        self._sync()
        self.seconds.append(time.perf_counter() - self._start)


def build_module(stage: str, model: dict[str, Any], shapes: Shapes, chunk_size: int | None = None,
                 n_pairs: int = 4096) -> L.LightningModule:
    """The stage's module, built on the check's device (weights initialised there: no CPU copy of 1B)."""
    optim = {"lr": 1e-5, "weight_decay": 0.0, "warmup_ratio": 0.0}
    with torch.device(shapes.device):
        if stage == "stage1":
            return ContrastiveModule(model=model, optim=optim, temperature=0.02, in_batch_negatives=True,
                                     chunk_size=chunk_size)
        module = RankPOModule(model=model, optim=optim, reference="frozen")
    module.set_reference_scores(torch.rand(n_pairs, 2))  # the precomputed stage-1 scores (values do not matter here)
    return module


def stage1_batches(shapes: Shapes, lengths: tuple[int, int], batch: int, n: int, vocab: int, eos: int,
                   talent_lengths: Callable[[int], Sequence[int]] | None = None, pad_id: int = 0,
                   group: bool = False) -> list[Any]:
    """``n`` stage-1 batches: ``batch`` JDs of ``lengths[0]`` tokens, each with 1 + negatives talents of
    ``lengths[1]`` tokens (or of ``talent_lengths(k)`` drawn lengths; ``group``: sorted by length before
    batching, so that a batch holds talents of similar length)."""
    rng = np.random.default_rng(0)
    group_size = 1 + shapes.negatives
    per_batch = batch * group_size
    drawn = list(talent_lengths(n * per_batch)) if talent_lengths else [lengths[1]] * (n * per_batch)
    if group:
        drawn = sorted(drawn)
    collate = ContrastiveCollator(pad_id=pad_id, side="left", multiple_of=8)
    out = []
    for b in range(n):
        talents = [random_ids(rng, length, vocab, eos) for length in drawn[b * per_batch:(b + 1) * per_batch]]
        examples = [(random_ids(rng, lengths[0], vocab, eos), talents[i * group_size:(i + 1) * group_size])
                    for i in range(batch)]
        out.append(collate(examples))
    return out


def stage2_batches(shapes: Shapes, lengths: tuple[int, int], batch: int, n: int, vocab: int, eos: int,
                   pad_id: int = 0) -> list[Any]:
    """``n`` stage-2 batches of ``batch`` pairs (a JD and two talents each, all distinct)."""
    rng = np.random.default_rng(1)
    collate = PreferenceCollator(pad_id=pad_id, side="left", multiple_of=8)
    return [collate([(random_ids(rng, lengths[0], vocab, eos), random_ids(rng, lengths[1], vocab, eos),
                      random_ids(rng, lengths[1], vocab, eos), b * batch + i) for i in range(batch)])
            for b in range(n)]


def batch_tokens(batch: Any) -> tuple[list[int], int]:
    """(real lengths of every text the step encodes, padded tokens encoded)."""
    parts = [batch.query, batch.passages] if hasattr(batch, "passages") else [batch.queries, batch.talents]
    lengths = [int(x) for p in parts for x in p.attention_mask.sum(1)]
    return lengths, sum(int(p.input_ids.numel()) for p in parts)


def fit(module: L.LightningModule, batches: list[Any], shapes: Shapes, steps: int, strategy: str = "auto",
        clock: StepClock | None = None, return_trainer: bool = False) -> Any:
    """Train ``steps`` steps on ``batches`` (cycled); the step clock (or the trainer)."""
    clock = clock or StepClock()
    loader = DataLoader([batches[i % len(batches)] for i in range(steps)], batch_size=None, shuffle=False)
    trainer = L.Trainer(accelerator="cpu" if shapes.tiny else "gpu", devices=1, strategy=strategy,
                        precision=shapes.precision, max_steps=steps, max_epochs=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=0, gradient_clip_val=1.0, callbacks=[clock])
    trainer.fit(module, train_dataloaders=loader)
    return trainer if return_trainer else clock


def release() -> None:
    """Free what the last trial left on the device (after an out-of-memory error too)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gb() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def is_oom(error: BaseException) -> bool:
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def step_row(module: L.LightningModule, batches: list[Any], shapes: Shapes, lora: bool,
             peak_flops: float) -> dict[str, Any]:
    """Tokens/s (real and padded), MFU and peak memory of timed steps on ``batches``."""
    release()
    clock = fit(module, batches, shapes, shapes.warmup_steps + shapes.timed_steps)
    timed = clock.seconds[shapes.warmup_steps:]
    seconds = float(np.median(timed))
    lengths, padded = batch_tokens(batches[0])
    backbone = module.encoder.backbone
    config = backbone.config
    flops = sequence_flops(lengths, dense_params(backbone), config.num_hidden_layers, config.hidden_size,
                           training="frozen" if lora else "full")
    return {
        "step_s": round(seconds, 4),
        "tokens_per_s": round(sum(lengths) / seconds, 1),
        "padded_tokens_per_s": round(padded / seconds, 1),
        "texts_per_step": len(lengths),
        "mfu": round(flops / seconds / peak_flops, 4),
        "peak_memory_gb": None if (m := peak_memory_gb()) is None else round(m, 2),
    }


def largest_batch(build: Callable[[int], list[Any]], module: L.LightningModule, shapes: Shapes) -> dict[str, Any]:
    """The largest batch (doubling from 1) whose training step fits in memory, up to ``max_batch_limit``."""
    fits, tried, failure = 0, [], None
    size = 1
    while size <= shapes.max_batch_limit:
        release()
        try:
            fit(module, build(size), shapes, 1)
            fits = size
            tried.append({"batch": size, "peak_memory_gb": None if (m := peak_memory_gb()) is None else round(m, 2)})
        except Exception as error:
            if not is_oom(error):
                raise
            failure = f"out of memory at batch {size}"
            break
        size *= 2
    release()
    return {"largest_batch": fits, "tried": tried, "stopped": failure or f"limit {shapes.max_batch_limit} reached"}
