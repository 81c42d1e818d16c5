"""Alignment with the AI judge (docs/design.md §1): how often the model prefers the judge's choice."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

# bootstrap resamples are drawn in blocks of at most this many indices, to bound memory
_BLOCK = 10_000_000


def pair_wins(chosen_scores: np.ndarray, rejected_scores: np.ndarray) -> np.ndarray:
    """Per pair: 1 if s(q, chosen) > s(q, rejected), 0.5 on a tie, else 0.

    Args:
        chosen_scores: [P] model scores of the judge-preferred candidates.
        rejected_scores: [P] model scores of the other candidates.
    Returns:
        [P] float64.
    """
    chosen, rejected = np.asarray(chosen_scores, dtype=np.float64), np.asarray(rejected_scores, dtype=np.float64)
    if chosen.ndim != 1 or chosen.shape != rejected.shape:
        raise ValueError(f"chosen and rejected scores must be 1-D of one length, got {chosen.shape}, {rejected.shape}")
    return (chosen > rejected) + 0.5 * (chosen == rejected)


def intent_wins(model_margin: np.ndarray, judge_margin: np.ndarray) -> np.ndarray:
    """Per pair: agreement of the model with the judge's noiseless preference (its intent).

    Args:
        model_margin: [P] s(q, chosen) − s(q, rejected) of the model.
        judge_margin: [P] the judge's noiseless score of chosen − that of rejected.
    Returns:
        [P] float64: 1 when the model orders the pair as the noiseless judge does, 0.5 when either
        side ties (a noiseless tie has no preferred talent), else 0.
    """
    model = np.sign(np.asarray(model_margin, dtype=np.float64))
    judge = np.sign(np.asarray(judge_margin, dtype=np.float64))
    if model.shape != judge.shape:
        raise ValueError(f"model and judge margins must have one shape, got {model.shape}, {judge.shape}")
    return np.where((model == 0) | (judge == 0), 0.5, (model == judge).astype(np.float64))


def judge_ceiling_and_intent(model_margin: np.ndarray, judge_margin: np.ndarray) -> dict[str, float]:
    """``alignment_ceiling`` and ``alignment_intent`` of a model on pairs of a judge with a known noiseless score.

    ``judge_margin`` [P] is the judge's noiseless score difference, chosen − rejected, where chosen is its
    (noisy) verdict. The ceiling is the share of pairs where that noiseless difference agrees with the verdict
    (ties 0.5): the alignment of a model that knows the judge's scores exactly, the best any model can expect.
    The intent is the model's agreement with the noiseless preference (:func:`intent_wins`), free of the
    verdicts' noise and so of far less variance.
    """
    judge_margin = np.asarray(judge_margin, dtype=np.float64)
    ceiling = pair_wins(judge_margin, np.zeros_like(judge_margin))  # [P]
    return {"alignment_ceiling": float(ceiling.mean()),
            "alignment_intent": float(intent_wins(model_margin, judge_margin).mean())}


def bootstrap_interval(
    values: np.ndarray, *, n_bootstrap: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` ([P]), resampling with replacement."""
    rng = np.random.default_rng(seed)
    n = len(values)
    per_block = max(1, _BLOCK // n)
    means = np.concatenate(
        [
            values[rng.integers(0, n, size=(min(per_block, n_bootstrap - start), n))].mean(axis=1)  # [B]
            for start in range(0, n_bootstrap, per_block)
        ]
    )
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def alignment(
    chosen_scores: np.ndarray,
    rejected_scores: np.ndarray,
    *,
    confidence: np.ndarray | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    bins: Sequence[float] = (0, 60, 80, 90, 101),
) -> dict[str, float]:
    """Fraction of pairs where the model scores the judge-preferred candidate strictly higher.

    Ties count 0.5. The 95% interval is a percentile bootstrap over pairs (seeded). With the
    judge's ``confidence`` (0-100), the pairs are also split into the half-open bins
    ``[bins[i], bins[i+1])`` (the default last edge 101 keeps 100 in ``[90,101)``); pairs outside
    every bin are left out of the breakdown. An empty bin reports alignment NaN and count 0.

    Args:
        chosen_scores: [P] model scores s(q, w) of the preferred candidates.
        rejected_scores: [P] model scores s(q, l) of the rejected candidates.
        confidence: [P] judge confidence scores, or None for no breakdown.
        n_bootstrap: bootstrap resamples.
        seed: bootstrap seed.
        bins: increasing bin edges of the confidence breakdown.
    Returns:
        ``alignment``, ``alignment_ci_low``, ``alignment_ci_high``, ``n_pairs`` and, per bin,
        ``alignment_conf[60,80)`` and ``n_pairs_conf[60,80)``.
    """
    wins = pair_wins(chosen_scores, rejected_scores)  # [P]
    if len(wins) == 0:
        raise ValueError("no pairs to evaluate")
    low, high = bootstrap_interval(wins, n_bootstrap=n_bootstrap, seed=seed)
    result: dict[str, float] = {"alignment": float(wins.mean()), "alignment_ci_low": low, "alignment_ci_high": high}
    result["n_pairs"] = len(wins)
    if confidence is None:
        return result
    confidence = np.asarray(confidence, dtype=np.float64)
    if confidence.shape != wins.shape:
        raise ValueError(f"confidence must have shape {wins.shape}, got {confidence.shape}")
    if any(hi <= lo for lo, hi in itertools.pairwise(bins)):
        raise ValueError(f"bins must be increasing, got {bins}")
    for lo, hi in itertools.pairwise(bins):
        in_bin = (confidence >= lo) & (confidence < hi)  # [P]
        name = f"[{lo:g},{hi:g})"
        result[f"alignment_conf{name}"] = float(wins[in_bin].mean()) if in_bin.any() else float("nan")
        result[f"n_pairs_conf{name}"] = int(in_bin.sum())
    return result
