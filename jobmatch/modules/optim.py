"""AdamW with linear warmup and cosine decay, built from primitive hyperparameters."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(total_steps: int, warmup_steps: int, min_ratio: float = 0.0):
    """LR multiplier: linear 0→1 over ``warmup_steps``, then cosine 1→``min_ratio`` until ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def adamw_settings(optim: Mapping[str, Any]) -> dict[str, Any]:
    """AdamW's ``lr``, ``weight_decay``, ``betas`` and ``eps`` from the ``optim`` config (with defaults)."""
    return {
        "lr": float(optim.get("lr", 1e-4)),
        "weight_decay": float(optim.get("weight_decay", 0.0)),
        "betas": tuple(optim.get("betas", (0.9, 0.999))),
        "eps": float(optim.get("eps", 1e-8)),
    }


def build_optimizer(
    params: Iterable[torch.nn.Parameter], optim: Mapping[str, Any], total_steps: int
) -> dict[str, Any]:
    """The ``configure_optimizers`` dict for AdamW + warmup/cosine, stepping every batch.

    ``optim`` keys: ``lr``, ``weight_decay``, ``betas``, ``eps``, ``warmup_ratio`` (share of the
    total steps) or ``warmup_steps``, ``min_lr_ratio``.
    """
    trainable = [p for p in params if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, **adamw_settings(optim))
    warmup = optim.get("warmup_steps")
    if warmup is None:
        warmup = int(float(optim.get("warmup_ratio", 0.1)) * total_steps)
    schedule = LambdaLR(optimizer, warmup_cosine(total_steps, int(warmup), float(optim.get("min_lr_ratio", 0.0))))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def reapply_settings(schedule: LambdaLR, optim: Mapping[str, Any]) -> None:
    """After a resume restored the checkpoint's optimiser and scheduler state: use the config's AdamW
    settings and base LR instead (``resume.allow_changes``), keeping the moments and the schedule's step."""
    settings = adamw_settings(optim)
    lr = settings.pop("lr")
    schedule.base_lrs = [lr] * len(schedule.base_lrs)
    for group, factor in zip(schedule.optimizer.param_groups, schedule.lr_lambdas, strict=True):
        group.update(settings, initial_lr=lr, lr=lr * factor(schedule.last_epoch))
    schedule._last_lr = [group["lr"] for group in schedule.optimizer.param_groups]
