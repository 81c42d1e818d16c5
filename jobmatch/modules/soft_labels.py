"""Soft labels for RankPO: the judge's preference probability as a per-pair ε (stage.soft_labels).

A hard label trusts every verdict fully. When the judge is asked both presentation orders
(``annotate.judge_both_orders``), or states a confidence, its uncertainty is information: with p the
probability that the chosen talent is the better one, the sigmoid RankPO loss with ε = 1 − p,

    L = −p·log σ(βz) − (1 − p)·log σ(−βz),

is the cross-entropy against that probability instead of against 1 (docs/design.md, Stage 2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jobmatch.data.records import PreferenceRecord
from jobmatch.errors import OptionError

PROBABILITY_KEY = "preference_probability"  # a judged pair's P(its preferred talent is the better one)


def pair_epsilon(records: Sequence[PreferenceRecord], source: str) -> np.ndarray:
    """[P] float32 per-pair ε ∈ [0, 0.5] of ``records`` in order.

    ``source``: ``probability``: 1 − the pair's ``preference_probability`` (written by the annotation when the
    judge was asked both orders); ``confidence``: 1 − ``confidence_score``/100 (0 without a confidence).
    """
    if source == "confidence":
        conf = np.array([100.0 if r.confidence_score is None else r.confidence_score for r in records])
        return np.clip(1.0 - conf / 100.0, 0.0, 0.5).astype(np.float32)
    if source != "probability":
        raise ValueError(f"soft-label source '{source}' is not one of probability, confidence")
    missing = sum(PROBABILITY_KEY not in r.extra for r in records)
    if missing:
        raise OptionError(f"{{soft_labels}}=probability: {missing} of {len(records)} judged pairs carry no "
                          f"'{PROBABILITY_KEY}'; annotate with {{judge_both_orders}}=true, or use "
                          "{soft_labels}=confidence")
    prob = np.array([float(r.extra[PROBABILITY_KEY]) for r in records])
    return np.clip(1.0 - prob, 0.0, 0.5).astype(np.float32)
