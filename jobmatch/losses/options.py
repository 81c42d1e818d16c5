"""The stage-2 loss options as one dataclass: what :func:`validate_preference_options` checks, what
``RankPOModule`` takes, and (as the ``stage`` config schema's base) what the application validates and documents.

Each field is declared once, with its default, the values it accepts and a one-line doc
(:func:`jobmatch.utils.option_rules.option`); the names are those of :func:`jobmatch.losses.rankpo_loss`'s
arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobmatch.losses.registry import loss_types
from jobmatch.utils.option_rules import POSITIVE, Choice, Num, Registered, option

REFERENCE_MODES: tuple[str, ...] = ("none", "frozen", "online")
# where a per-pair ε comes from (jobmatch.modules.soft_labels): none (hard labels), probability (the judge asked in
# both orders), confidence (the judge's stated confidence / 100)
SOFT_LABELS: tuple[str, ...] = ("none", "probability", "confidence")


@dataclass
class PreferenceOptions:
    """The options of the stage-2 loss: RankPO (or a registered variant) plus the SFT term."""

    loss_type: str = option("sigmoid", "the loss variant: sigmoid | hinge | listwise | one a loss module registers",
                            Registered(loss_types, "a registered loss type"))
    beta: float = option(2.0, "β, the sharpness of the preference (reference: 2)", POSITIVE)
    temperature: float = option(0.1, "τ dividing the similarity margin (reference: 0.1)", POSITIVE)
    gamma_beta_ratio: float = option(0.0, "γ/β, a target margin on Δ/τ", Num())
    label_smoothing: float = option(0.0, "sigmoid only: the assumed share ε of mislabelled pairs",
                                    Num(low=0, high=0.5, high_open=True))
    soft_labels: str = option("none", "a per-pair ε = 1 − p from the judge: none | probability | confidence",
                              Choice(SOFT_LABELS))
    reference: str = option("frozen", "frozen: stage-1 scores precomputed once | online: adapter off each step | "
                            "none: reference-free", Choice(REFERENCE_MODES))
    rankpo_weight: float = option(1.0, "weight of the RankPO term", Num(low=0))
    sft_weight: float = option(0.0, "weight of the SFT cross-entropy term (> 0 adds it)", Num(low=0))
