"""AdamW with linear warmup and cosine decay (transformers' schedule), built from primitive hyperparameters.

The schedule is ``transformers.get_cosine_with_min_lr_schedule_with_warmup``: the LR multiplier of step ``k``
(0-based) is ``k / W`` during the ``W`` warmup steps (the first step trains with lr 0), then a half cosine from
1 that reaches ``min_lr_ratio`` at ``total_steps``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR
from transformers.optimization import get_cosine_with_min_lr_schedule_with_warmup


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
    schedule = get_cosine_with_min_lr_schedule_with_warmup(
        optimizer, num_warmup_steps=int(warmup), num_training_steps=total_steps,
        min_lr_rate=float(optim.get("min_lr_ratio", 0.0)),
    )
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def reapply_settings(schedule: LambdaLR, optim: Mapping[str, Any]) -> None:
    """After a resume restored the checkpoint's optimiser and scheduler state: use the config's AdamW
    settings and base LR instead (``resume.allow_changes``), keeping the moments and the schedule's step."""
    settings = adamw_settings(optim)
    lr = settings.pop("lr")
    schedule.base_lrs = [lr] * len(schedule.base_lrs)
    for group in schedule.optimizer.param_groups:
        group.update(settings, initial_lr=lr)
    # Recompute the current step's lr from the new base through the scheduler itself (it also updates
    # what get_last_lr() reports): step back, then forward to the same step.
    schedule.last_epoch -= 1
    schedule.step()
