"""The ``trainer`` group (``conf/trainer/``): a ``lightning.pytorch.Trainer``; ``cpu.yaml`` holds these defaults.

A trainer node may set any other argument of ``Trainer`` too (checked against its signature); the options
below are those the presets set, with the values they accept. ``precision`` is checked against the values
Lightning itself lists (:func:`jobmatch.app.option_checks.check_precision`).
"""

from __future__ import annotations

from dataclasses import dataclass

from jobmatch.utils.option_rules import Num, option


@dataclass
class TrainerOptions:
    """The Lightning Trainer's options that the presets set."""

    _target_: str = option("lightning.pytorch.Trainer", "the class instantiated")
    accelerator: str = option("cpu", "cpu | gpu | auto")
    devices: int = option(1, "devices (processes) to train on")
    precision: str = option("32-true", "32-true | bf16-mixed | 16-mixed | ... (any precision Lightning accepts)")
    max_epochs: int | None = option(2, "epochs to train (-1 or null with max_steps: no epoch limit)",
                                    Num(low=-1, integer=True, nullable=True))
    max_steps: int = option(-1, "optimizer steps to train (-1: no step limit)", Num(low=-1, integer=True))
    gradient_clip_val: float | None = option(1.0, "clip gradients to this norm (null: no clipping)",
                                             Num(low=0, nullable=True))
    accumulate_grad_batches: int = option(1, "batches per optimizer step", Num(low=1, integer=True))
    log_every_n_steps: int = option(5, "steps between logged training metrics", Num(low=1, integer=True))
    num_sanity_val_steps: int = option(0, "validation batches run before training")
    check_val_every_n_epoch: int | None = option(1, "epochs between validations",
                                                 Num(low=1, integer=True, nullable=True))
    deterministic: bool | str | None = option(False, "deterministic algorithms only (slower); warn: warn instead")
    enable_progress_bar: bool = option(True, "show a progress bar")
    enable_model_summary: bool = option(True, "print the model summary")
    enable_checkpointing: bool = option(True, "save checkpoints")
    fast_dev_run: bool | int = option(False, "true (1) or n: that many batches of each loop, as a smoke test")
    overfit_batches: float = option(0.0, "train and validate on this many (or share of) training batches")
    limit_train_batches: float = option(1.0, "training batches per epoch (int) or share of them (float)")
    limit_val_batches: float = option(1.0, "validation batches per epoch (int) or share of them (float)")
