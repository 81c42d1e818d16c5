"""Fairness measures of a ranking model (docs/design.md §3): counterfactual stability and selection rates.

Counterfactual stability compares the model's scores of every (JD, talent) before and after only the
talents' name/pronoun cues were swapped to another group; a model that ignores them scores 0 change.
Selection rates compare each group's share of the top-k slots with its share of the relevant
candidates; the impact ratio divides each group's rate by the highest group's (the "four-fifths"
practice flags ratios below 0.8). Intervals are percentile bootstraps over JDs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

FOUR_FIFTHS = 0.8


def ranks(scores: np.ndarray) -> np.ndarray:
    """[Q, N] rank of every talent per JD (0 = best; ties broken by talent index), from scores [Q, N]."""
    order = np.lexsort((np.broadcast_to(np.arange(scores.shape[1]), scores.shape), -scores), axis=1)  # [Q, N]
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.arange(scores.shape[1])[None, :].repeat(scores.shape[0], 0), axis=1)
    return out


def counterfactual_shift(
    scores: np.ndarray, cf_scores: np.ndarray, *, depth: int = 100, k: int = 20
) -> dict[str, np.ndarray]:
    """Per-JD change between the factual and the counterfactual ranking of one corpus.

    Args:
        scores: [Q, N] model scores of every talent for every JD.
        cf_scores: [Q, N] the same after swapping the talents' name/pronoun cues.
        depth: the top of the factual ranking whose rank and score changes are averaged (100).
        k: the cut-off whose memberships are compared (20).
    Returns:
        [Q] arrays: ``abs_rank_shift`` (mean |Δ rank| of the factual top ``depth``), ``topk_change``
        (share of the factual top-k that left it), ``score_shift`` and ``abs_score_shift`` (mean
        signed and absolute Δ score over the factual top ``depth``).
    """
    if scores.shape != cf_scores.shape or scores.ndim != 2:
        raise ValueError(f"scores and cf_scores must be [Q, N] of one shape, got {scores.shape}, {cf_scores.shape}")
    depth, k = min(depth, scores.shape[1]), min(k, scores.shape[1])
    before, after = ranks(scores), ranks(cf_scores)  # [Q, N]
    top = before < depth  # [Q, N] the factual top `depth`
    shift = np.abs(after - before)  # [Q, N]
    delta = cf_scores.astype(np.float64) - scores.astype(np.float64)  # [Q, N]
    left = (before < k) & (after >= k)  # [Q, N] in the factual top-k, not in the counterfactual one
    return {
        "abs_rank_shift": (shift * top).sum(1) / depth,
        "topk_change": left.sum(1) / k,
        "score_shift": (delta * top).sum(1) / depth,
        "abs_score_shift": (np.abs(delta) * top).sum(1) / depth,
    }


def group_counts(
    scores: np.ndarray, groups: Sequence[str], relevant: np.ndarray, *, k: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per JD and group: top-k slots taken and relevant candidates.

    Args:
        scores: [Q, N] model scores.
        groups: [N] the group of each talent.
        relevant: [Q, N] bool, the JD's relevant (rule-positive) talents.
        k: the cut-off.
    Returns:
        (group names [G], top-k counts [Q, G], relevant counts [Q, G]).
    """
    names = sorted(set(groups))
    member = np.asarray(groups)[None, :] == np.asarray(names)[:, None]  # [G, N]
    top = ranks(scores) < min(k, scores.shape[1])  # [Q, N]
    return names, top.astype(np.int64) @ member.T, relevant.astype(np.int64) @ member.T


def selection_rates(top: np.ndarray, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(selection rate [G], impact ratio [G]) from per-JD counts [Q, G] (summed over the JDs given).

    A group's selection rate is its share of the top-k slots over its share of the relevant
    candidates; the impact ratio is the rate over the highest rate. A group without relevant
    candidates has rate NaN.
    """
    top_share = top.sum(0) / max(top.sum(), 1)  # [G]
    rel_total = rel.sum(0)  # [G]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(rel_total > 0, top_share / (rel_total / max(rel.sum(), 1)), np.nan)  # [G]
        best = np.nanmax(rate) if np.isfinite(rate).any() else np.nan
        return rate, rate / best


def bootstrap_over_queries(
    statistic: Callable[[np.ndarray], np.ndarray],
    n_queries: int,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval (low [S], high [S]) of a statistic of JD indices, resampling JDs.

    ``statistic(indices)`` returns an array [S] computed from the JDs ``indices`` ([Q] with repeats).
    """
    rng = np.random.default_rng(seed)
    draws = np.stack([statistic(rng.integers(0, n_queries, n_queries)) for _ in range(n_bootstrap)])  # [B, S]
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(draws, [tail, 100 - tail], axis=0)
    return low, high


def min_ratio(top: np.ndarray, rel: np.ndarray) -> np.ndarray:
    """[1]: the lowest impact ratio of per-JD counts ``top``, ``rel`` [Q, G] (NaN when no group has a rate)."""
    impact = selection_rates(top, rel)[1]
    return np.array([np.nanmin(impact) if np.isfinite(impact).any() else np.nan])


def paired_min_ratio(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], *, n_bootstrap: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """(estimate, low, high): the lowest impact ratio of ``a`` minus that of ``b``, each a pair of per-JD counts
    (top-k [Q, G], relevant [Q, G]) on the same JDs and groups; the interval resamples JDs, both on one resample."""
    def delta(idx: np.ndarray) -> np.ndarray:
        return min_ratio(a[0][idx], a[1][idx]) - min_ratio(b[0][idx], b[1][idx])

    low, high = bootstrap_over_queries(delta, len(a[0]), n_bootstrap=n_bootstrap, seed=seed)
    return float(delta(np.arange(len(a[0])))[0]), float(low[0]), float(high[0])
