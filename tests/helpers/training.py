"""Training helpers: a few optimiser steps of the configured module, a single (DDP or not) step."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from jobmatch.app.builders import build_datamodule, build_module

NO_DROPOUT = ["+model.config.hidden_dropout_prob=0.0", "+model.config.attention_probs_dropout_prob=0.0"]


def snapshot(module: L.LightningModule) -> dict[str, torch.Tensor]:
    """A copy of every encoder parameter."""
    return {n: p.detach().clone() for n, p in module.encoder.named_parameters()}


def fit_steps(cfg, steps: int = 4) -> tuple[dict, dict, L.LightningModule]:
    """Fit ``steps`` optimiser steps of the configured module; parameters before, after, and the module."""
    datamodule = build_datamodule(cfg)
    module = build_module(cfg)
    before = snapshot(module)
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(module, datamodule=datamodule)
    return before, snapshot(module), module


class CaptureStep(Callback):
    """Saves the first step's loss (per rank) and the synchronised gradients (rank 0)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        torch.save(outputs["loss"].detach(), self.out_dir / f"loss{trainer.global_rank}.pt")

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_rank == 0:
            grads = {n: p.grad.detach().clone() for n, p in pl_module.named_parameters() if p.grad is not None}
            torch.save(grads, self.out_dir / "grads.pt")


def run_step(cfg, out_dir: Path, devices: int) -> None:
    """One optimiser step on ``devices`` CPU processes (DDP spawn when > 1), captured into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(0)
    module = build_module(cfg)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy="ddp_spawn" if devices > 1 else "auto",
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[CaptureStep(out_dir)],
    )
    trainer.fit(module, datamodule=build_datamodule(cfg))
