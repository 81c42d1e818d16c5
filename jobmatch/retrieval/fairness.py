"""Fairness measures of a ranking model (docs/design.md §3): counterfactual stability and selection rates.

Counterfactual stability compares each JD's top talents' ranks and scores before and after only the
talents' name/pronoun cues were swapped to another group; a model that ignores them scores 0 change.
Every measure here reads per-JD top lists (or the ranks of given talents), never [JDs x talents] arrays.
Selection rates compare each group's share of the top-k slots with its share of the relevant
candidates; the impact ratio divides each group's rate by the highest group's (the "four-fifths"
practice flags ratios below 0.8). Intervals are percentile bootstraps over JDs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

FOUR_FIFTHS = 0.8


def counterfactual_shift(
    scores: np.ndarray, cf_ranks: np.ndarray, cf_scores: np.ndarray, *, depth: int = 100, k: int = 20
) -> dict[str, np.ndarray]:
    """Per-JD change between the factual and the counterfactual ranking of one corpus, from the factual top list.

    Column i of the inputs is the talent at factual rank i (a JD's ranking: score descending, ties by talent
    row ascending), for the first m = min(max(depth, k), N) ranks.

    Args:
        scores: [Q, m] the factual scores of each JD's top m talents.
        cf_ranks: [Q, m] the rank (0 = best) of the same talents in the counterfactual ranking of the whole corpus.
        cf_scores: [Q, m] their scores after the talents' name/pronoun cues were swapped.
        depth: the top of the factual ranking whose rank and score changes are averaged (100; at most m).
        k: the cut-off whose memberships are compared (20; at most m).
    Returns:
        [Q] arrays: ``abs_rank_shift`` (mean |Δ rank| of the factual top ``depth``), ``topk_change`` (share of
        the factual top-k that left it), ``score_shift`` and ``abs_score_shift`` (mean signed and absolute
        Δ score over the factual top ``depth``).
    """
    if scores.shape != cf_scores.shape or scores.shape != cf_ranks.shape or scores.ndim != 2:
        raise ValueError(f"scores, cf_ranks and cf_scores must be [Q, m] of one shape, got {scores.shape}, "
                         f"{cf_ranks.shape}, {cf_scores.shape}")
    depth, k = min(depth, scores.shape[1]), min(k, scores.shape[1])
    before = np.arange(depth)  # [depth]
    shift = np.abs(cf_ranks[:, :depth] - before)  # [Q, depth]
    delta = cf_scores[:, :depth].astype(np.float64) - scores[:, :depth].astype(np.float64)  # [Q, depth]
    return {
        "abs_rank_shift": shift.sum(1) / depth,
        "topk_change": (cf_ranks[:, :k] >= k).sum(1) / k,
        "score_shift": delta.sum(1) / depth,
        "abs_score_shift": np.abs(delta).sum(1) / depth,
    }


def group_codes(groups: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """(group names [G] sorted, [N] int64 code of each talent's group)."""
    names, codes = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    return names.tolist(), codes.astype(np.int64).reshape(-1)


def top_group_counts(top_rows: np.ndarray, codes: np.ndarray, n_groups: int, *, k: int) -> np.ndarray:
    """[Q, G] top-k slots each group takes per JD, from each JD's top list ``top_rows`` [Q, >= min(k, N)]."""
    return count_per_row(codes[top_rows[:, :k]], n_groups)


def relevant_group_counts(relevant_rows: Sequence[np.ndarray], codes: np.ndarray, n_groups: int) -> np.ndarray:
    """[Q, G] relevant (rule-positive) talents of each group per JD, from each JD's relevant talent rows."""
    out = np.zeros((len(relevant_rows), n_groups), dtype=np.int64)
    for q, rows in enumerate(relevant_rows):
        out[q] = np.bincount(codes[rows], minlength=n_groups)
    return out


def count_per_row(labels: np.ndarray, n_labels: int) -> np.ndarray:
    """[Q, L] occurrences of each label 0..L-1 in each row of ``labels`` [Q, m]."""
    offsets = np.arange(len(labels))[:, None] * n_labels  # [Q, 1]
    return np.bincount((labels + offsets).ravel(), minlength=len(labels) * n_labels).reshape(len(labels), n_labels)


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
