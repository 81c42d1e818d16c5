"""RankPO and its SFT baseline: pairwise preference losses on similarities (stage 2, docs/design.md §1).

For a JD q, the judge-preferred talent w and the rejected talent l, with policy similarities
s(q,w), s(q,l) and, optionally, those of a reference model s_ref:

    Δ = s(q,w) − s(q,l)
    Δ ← Δ − (s_ref(q,w) − s_ref(q,l))          only when reference scores are given
    z = Δ/τ − γ/β
    sigmoid: L = −(1−ε)·log σ(βz) − ε·log σ(−βz)
    hinge:   L = max(0, 1 − βz)

Without the reference term this is the reference-free variant (SimRankPO). The SFT baseline is the
cross-entropy of [s(q,w), s(q,l)]/τ with w as the target. All functions return per-pair values [B].
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from jobmatch.losses.registry import loss_types, loss_variant, register_loss

# the link functions of rankpo_loss; every stage.loss_type (these, listwise, any other) is in the registry
PAIRWISE_LOSS_TYPES: tuple[str, ...] = ("sigmoid", "hinge")
REFERENCE_MODES: tuple[str, ...] = ("none", "frozen", "online")
# where a per-pair ε comes from (jobmatch.modules.soft_labels): none (hard labels), probability (the judge asked in
# both orders: annotate.judge_both_orders), confidence (the judge's stated confidence / 100)
SOFT_LABELS: tuple[str, ...] = ("none", "probability", "confidence")


def __getattr__(name: str) -> Any:
    """``LOSS_TYPES``: the registered ``stage.loss_type`` names (:func:`jobmatch.losses.registry.loss_types`),
    read when asked, so that it includes variants registered after this module was imported."""
    if name == "LOSS_TYPES":
        return loss_types()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_reference(ref_chosen: torch.Tensor | None, ref_rejected: torch.Tensor | None) -> bool:
    """Whether reference similarities are given (both, or neither: else ValueError)."""
    if (ref_chosen is None) != (ref_rejected is None):
        raise ValueError("pass both ref_chosen and ref_rejected, or neither")
    return ref_chosen is not None


def rankpo_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    ref_chosen: torch.Tensor | None = None,
    ref_rejected: torch.Tensor | None = None,
    *,
    beta: float,
    temperature: float,
    gamma_beta_ratio: float = 0.0,
    loss_type: str = "sigmoid",
    label_smoothing: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """Per-pair RankPO loss (formula in the module docstring).

    Args:
        chosen: [B] policy similarities s(q, w) of the preferred talents.
        rejected: [B] policy similarities s(q, l) of the rejected talents.
        ref_chosen: [B] reference similarities s_ref(q, w), or None (reference-free).
        ref_rejected: [B] reference similarities s_ref(q, l), or None.
        beta: β > 0, the sharpness of the preference (reference: 2).
        temperature: τ > 0 dividing the similarity margin (reference: 0.1).
        gamma_beta_ratio: γ/β, a target margin subtracted from Δ/τ (default 0).
        loss_type: ``sigmoid`` (DPO-style) or ``hinge`` (SLiC-style).
        label_smoothing: ε ∈ [0, 0.5), sigmoid only: the share of pairs assumed mislabelled; or [B] one ε ∈ [0, 0.5]
            per pair: the soft label 1 − p, p the judge's probability that the chosen talent is the better one.
    Returns:
        [B] float32 losses.
    """
    if loss_type not in PAIRWISE_LOSS_TYPES:
        fix = ": use jobmatch.losses.listwise_rankpo_loss" if loss_type == "listwise" else ""
        raise ValueError(f"loss_type='{loss_type}' is not one of {PAIRWISE_LOSS_TYPES}{fix}")
    if beta <= 0 or temperature <= 0:
        raise ValueError(f"beta and temperature must be > 0, got beta={beta}, temperature={temperature}")
    per_pair = isinstance(label_smoothing, torch.Tensor)
    if loss_type == "hinge" and (per_pair or label_smoothing):
        raise ValueError("label_smoothing applies to the sigmoid loss only")
    if per_pair:
        label_smoothing = label_smoothing.float()  # type: ignore[union-attr]
        if label_smoothing.shape != chosen.shape or bool(((label_smoothing < 0) | (label_smoothing > 0.5)).any()):
            raise ValueError(f"per-pair label_smoothing must be {list(chosen.shape)} values in [0, 0.5]")
    delta = chosen.float() - rejected.float()  # [B]
    if check_reference(ref_chosen, ref_rejected):
        delta = delta - (ref_chosen.float() - ref_rejected.float())  # type: ignore[union-attr]
    z = delta / temperature - gamma_beta_ratio  # [B]
    if loss_type == "hinge":
        return torch.relu(1 - beta * z)
    return -(1 - label_smoothing) * F.logsigmoid(beta * z) - label_smoothing * F.logsigmoid(-beta * z)


def sft_loss(chosen: torch.Tensor, rejected: torch.Tensor, *, temperature: float) -> torch.Tensor:
    """Per-pair cross-entropy of the two candidates' logits [s(q,w), s(q,l)]/τ with w as target.

    Equal to −log σ((s(q,w) − s(q,l))/τ), i.e. the reference-free sigmoid RankPO loss with β = 1.

    Args:
        chosen: [B] similarities of the preferred talents.
        rejected: [B] similarities of the rejected talents.
        temperature: τ > 0.
    Returns:
        [B] float32 losses.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = torch.stack([chosen.float(), rejected.float()], dim=-1) / temperature  # [B, 2]
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)  # w is candidate 0
    return F.cross_entropy(logits, target, reduction="none")


@torch.no_grad()
def preference_rewards(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    ref_chosen: torch.Tensor | None = None,
    ref_rejected: torch.Tensor | None = None,
    *,
    beta: float,
) -> dict[str, torch.Tensor]:
    """DPO-style diagnostics per pair: implicit rewards β·(s − s_ref) (s_ref = 0 without reference).

    Returns:
        ``chosen``, ``rejected``, ``margins`` (chosen − rejected) and ``accuracy`` (1. when the
        chosen reward is strictly higher), each [B] float32.
    """
    chosen, rejected = chosen.float(), rejected.float()
    if check_reference(ref_chosen, ref_rejected):
        chosen, rejected = chosen - ref_chosen.float(), rejected - ref_rejected.float()  # type: ignore[union-attr]
    reward_chosen, reward_rejected = beta * chosen, beta * rejected  # [B], [B]
    margins = reward_chosen - reward_rejected
    return {"chosen": reward_chosen, "rejected": reward_rejected, "margins": margins,
            "accuracy": (margins > 0).float()}


def validate_preference_options(options: Mapping[str, Any], *, lora_enabled: bool = True) -> None:
    """Reject inconsistent stage-2 options where the config is built, naming the options and the fix.

    ``options`` is the ``stage`` config node as a dict: ``loss_type``, ``beta``, ``temperature``,
    ``gamma_beta_ratio``, ``label_smoothing``, ``soft_labels``, ``reference``, ``rankpo_weight``, ``sft_weight``.
    The options a loss type rules out or needs are those its registration declares (:mod:`jobmatch.losses.registry`).
    """
    loss_type = options.get("loss_type", "sigmoid")
    smoothing = float(options.get("label_smoothing", 0.0))
    reference = options.get("reference", "none")
    soft = options.get("soft_labels", "none")
    rankpo_weight, sft_weight = float(options.get("rankpo_weight", 1.0)), float(options.get("sft_weight", 0.0))
    problems = []
    try:
        problems += loss_variant(loss_type).option_problems(dict(options))
    except ValueError as err:
        problems.append(str(err))
    if soft not in SOFT_LABELS:
        problems.append(f"stage.soft_labels='{soft}' is unknown: use one of {', '.join(SOFT_LABELS)}")
    elif soft != "none" and smoothing:
        problems.append(f"stage.soft_labels={soft} sets ε per pair, but stage.label_smoothing={smoothing} sets one ε "
                        "for all pairs: use stage.label_smoothing=0, or stage.soft_labels=none")
    if not 0 <= smoothing < 0.5:
        problems.append(f"stage.label_smoothing={smoothing} must be in [0, 0.5)")
    for key in ("beta", "temperature"):
        if float(options.get(key, 1.0)) <= 0:
            problems.append(f"stage.{key}={options.get(key)} must be > 0")
    if reference not in REFERENCE_MODES:
        problems.append(f"stage.reference='{reference}' is unknown: use one of {', '.join(REFERENCE_MODES)}")
    if reference == "online" and not lora_enabled:
        problems.append("stage.reference=online runs the model with its LoRA adapter disabled, but "
                        "model.lora.enabled=false: use stage.reference=frozen (precomputed) for full fine-tuning")
    if rankpo_weight < 0 or sft_weight < 0 or rankpo_weight + sft_weight == 0:
        problems.append(f"stage.rankpo_weight={rankpo_weight} and stage.sft_weight={sft_weight} must be ≥ 0 "
                        "and not both 0")
    if rankpo_weight == 0 and reference != "none":
        problems.append(f"stage.reference={reference} is unused when stage.rankpo_weight=0 (only the SFT term "
                        "trains): set stage.reference=none")
    if problems:
        raise ValueError("invalid stage-2 options:\n  " + "\n  ".join(problems))


register_loss("sigmoid", functools.partial(rankpo_loss, loss_type="sigmoid"), kind="pairwise")
register_loss("hinge", functools.partial(rankpo_loss, loss_type="hinge"), kind="pairwise",
              rules_out=("label_smoothing", "soft_labels"))
