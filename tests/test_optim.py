"""The optimiser and its schedule: AdamW with transformers' warmup + cosine (min-lr) schedule."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from jobmatch.modules.optim import build_optimizer, reapply_settings


def lrs(total: int, optim: dict) -> list[float]:
    """The lr every step of a ``total``-step run trains with."""
    params = [torch.nn.Parameter(torch.zeros(2))]
    built = build_optimizer(params, optim, total)
    optimizer, schedule = built["optimizer"], built["lr_scheduler"]["scheduler"]
    seen = []
    for _ in range(total):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return seen


def test_warmup_starts_at_zero_then_cosine_to_the_min_ratio() -> None:
    seen = lrs(10, {"lr": 1.0, "warmup_steps": 2, "min_lr_ratio": 0.1})
    expected = [0.0, 0.5] + [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (k - 2) / 8)) for k in range(2, 10)]
    assert seen == pytest.approx(expected)


def test_warmup_ratio_and_no_warmup() -> None:
    assert lrs(10, {"lr": 1.0, "warmup_ratio": 0.2})[:3] == pytest.approx([0.0, 0.5, 1.0])
    assert lrs(4, {"lr": 2.0, "warmup_ratio": 0.0})[0] == pytest.approx(2.0)


def test_reapplied_settings_take_the_new_base_at_the_same_step() -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    built = build_optimizer(params, {"lr": 1.0, "warmup_steps": 4}, 20)
    optimizer, schedule = built["optimizer"], built["lr_scheduler"]["scheduler"]
    for _ in range(2):
        optimizer.step()
        schedule.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reapply_settings(schedule, {"lr": 4.0, "weight_decay": 0.5})
    assert schedule.last_epoch == 2
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2.0)  # 4.0 x 2/4
    assert schedule.get_last_lr() == [pytest.approx(2.0)] and optimizer.param_groups[0]["weight_decay"] == 0.5
