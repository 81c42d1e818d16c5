"""The ``stage`` group (``conf/stage/``, also composed as ``stage2``): what trains and how it is optimised.

Two schemas: the contrastive stage 1 (``contrastive.yaml``) and the preference stage 2 (``rankpo.yaml`` and the
presets built on it, ``module: rankpo``), whose loss options are the library's own
:class:`~jobmatch.losses.options.PreferenceOptions`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobmatch.losses.options import PreferenceOptions
from jobmatch.losses.registry import loss_types, loss_variant
from jobmatch.utils.option_rules import POSITIVE, RATIO, Choice, Num, option


@dataclass
class OptimOptions:
    """``stage.optim``: AdamW with linear warmup and cosine decay (:mod:`jobmatch.modules.optim`)."""

    lr: float = option(1e-4, "peak learning rate", POSITIVE)
    weight_decay: float = option(0.01, "AdamW weight decay", Num(low=0))
    warmup_ratio: float = option(0.1, "share of the steps spent warming up (unless warmup_steps is set)", RATIO)
    min_lr_ratio: float = option(0.0, "the cosine ends at this share of lr", RATIO)
    warmup_steps: int | None = option(None, "warmup steps (null: warmup_ratio of the total)",
                                      Num(low=0, integer=True, nullable=True), example="100")
    betas: list[float] | None = option(None, "AdamW betas (null: [0.9, 0.999])", example="[0.9,0.98]")
    eps: float | None = option(None, "AdamW epsilon (null: 1e-8)", Num(low=0, low_open=True, nullable=True),
                               example="1e-8")


@dataclass
class ContrastiveStage:
    """Stage 1 (``stage=contrastive``): InfoNCE on rule-based matches."""

    name: str = option("contrastive", "the stage's name (run folders, W&B)")
    temperature: float = option(0.02, "InfoNCE temperature; lower: sharper, harder negatives matter more", POSITIVE)
    in_batch_negatives: bool = option(True, "every passage of the batch (and of every device) is a negative")
    init_ckpt: str | None = option(None, "start from these weights (curriculum rounds); not a resume")
    chunk_size: int | None = option(None, "encode at most this many texts per forward, length-sorted (null: all)",
                                    Num(low=1, integer=True, nullable=True), example="64")
    chunk_recompute: bool = option(True, "with chunk_size: recompute activations in backward (GradCache)")
    optim: OptimOptions = option(OptimOptions, "optimizer and schedule")
    monitor: str = option("val/ndcg@20", "the metric that picks the best checkpoint")
    monitor_mode: str = option("max", "whether the monitored metric is better high or low",
                               Choice(("min", "max")))


@dataclass
class PreferenceOptim(OptimOptions):
    """``stage.optim`` of stage 2 (the reference scripts' full fine-tuning values)."""

    lr: float = option(1e-5, "peak learning rate (reference: 1e-5; LoRA usually wants more)", POSITIVE)
    weight_decay: float = option(0.0, "AdamW weight decay", Num(low=0))


@dataclass
class PreferenceStage(PreferenceOptions):
    """Stage 2 (``stage=rankpo``, ``simrankpo``, ``sft``, ...): the loss options, then how the stage runs."""

    name: str = option("rankpo", "the stage's name (run folders, W&B)")
    module: str = option("rankpo", "the LightningModule (jobmatch.modules.rankpo.RankPOModule)", Choice(("rankpo",)))
    data_mode: str = option("preference", "the DataModule serves judged pairs (data.preference_*_file)",
                            Choice(("preference",)))
    init_ckpt: str | None = option(None, "the stage-1 checkpoint: its LoRA is merged, a fresh adapter trains on top")
    loss_module: str | None = option(None, "the module that registers loss_type when it is not built in")
    disable_dropout: bool = option(True, "set every dropout to 0, as TRL's DPO trainer does")
    optim: PreferenceOptim = option(PreferenceOptim, "optimizer and schedule")
    monitor: str = option("val/alignment", "the metric that picks the best checkpoint")
    monitor_mode: str = option("max", "whether the monitored metric is better high or low",
                               Choice(("min", "max")))
    evaluate: bool = option(True, "end of run: retention and alignment of this run and of init_ckpt")
    eval_ckpt: str = option("best", "the weights evaluated at the end", Choice(("best", "last")))


def stage_schema(node: Mapping[str, Any]) -> type:
    """The schema a composed ``stage`` node follows: stage 2 when it names the ``rankpo`` module, with the options
    of its loss variant when the variant declares its own (a registered ``options`` dataclass)."""
    if node.get("module") != "rankpo":
        return ContrastiveStage
    loss_type = node.get("loss_type", "sigmoid")
    own = loss_variant(loss_type).options if loss_type in loss_types() else None
    return with_variant_options(own) if own is not None else PreferenceStage


@functools.cache
def with_variant_options(options: type) -> type:
    """:class:`PreferenceStage` plus the fields of a loss variant's ``options`` dataclass."""
    fields = []
    for field in dataclasses.fields(options):
        default = ({"default": field.default} if field.default is not dataclasses.MISSING
                   else {"default_factory": field.default_factory})
        fields.append((field.name, field.type, dataclasses.field(**default, metadata=field.metadata)))
    return dataclasses.make_dataclass(f"PreferenceStage[{options.__name__}]", fields, bases=(PreferenceStage,))
