"""Paired bootstrap intervals: the mean of per-JD differences between two models (or methods), resampling
JDs and, with several seeds, seeds too. Pairs of one JD are not independent, so JDs are the unit."""

from __future__ import annotations

import numpy as np

PER_QUERY_FILE = "per_query.json"  # per-JD values beside a run's results.json (evaluation and stage 2 write it)
PerJD = dict[str, dict[str, float]]  # {"ndcg@20": {JD id: value}, "alignment": ..., "n_pairs": ...}

def excludes_zero(low: float, high: float) -> bool:
    """The rule every report applies: a difference is *decided* when its interval [low, high] excludes 0."""
    return low > 0 or high < 0


def paired_bootstrap(
    diffs: np.ndarray, weights: np.ndarray | None = None, *, n_bootstrap: int = 2000, seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """(estimate, low, high): the weighted mean of paired differences and its percentile bootstrap interval.

    Args:
        diffs: [S, J] per seed and JD the difference A − B ([J] for one seed).
        weights: [J] weight of each JD in the mean (its pair count), or None for equal weights.
        n_bootstrap: resamples; each draws S seeds and J JDs with replacement, independently.
        seed: seed of the resampling.
        level: coverage of the interval.
    """
    d = np.atleast_2d(np.asarray(diffs, dtype=np.float64))  # [S, J]
    n_seeds, n_jds = d.shape
    w = np.ones(n_jds) if weights is None else np.asarray(weights, dtype=np.float64)  # [J]
    estimate = float(d.mean(axis=0) @ w / w.sum())
    rng = np.random.default_rng(seed)
    seed_share = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=n_bootstrap) / n_seeds  # [B, S]
    jd_weight = rng.multinomial(n_jds, np.full(n_jds, 1 / n_jds), size=n_bootstrap) * w  # [B, J]
    stats = ((seed_share @ d) * jd_weight).sum(axis=1) / jd_weight.sum(axis=1)  # [B]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(stats, [tail, 100 - tail])
    return estimate, float(low), float(high)


def paired_diffs(a: dict[int, PerJD], b: dict[int, PerJD], metric: str) -> tuple[np.ndarray, np.ndarray | None]:
    """[S, J] differences A − B on the JDs both have, seeds paired by value (by order when none is shared), and
    the JDs' pair counts as weights for the pair-share metrics (``alignment``, ``alignment_intent``; not nDCG)."""
    shared = sorted(set(a) & set(b))
    pairs = [(a[s], b[s]) for s in shared] or list(zip((a[s] for s in sorted(a)), (b[s] for s in sorted(b)),
                                                       strict=False))
    jds = sorted(set.intersection(*(set(x[metric]) & set(y[metric]) for x, y in pairs)))
    diffs = np.array([[x[metric][j] - y[metric][j] for j in jds] for x, y in pairs])  # [S, J]
    return diffs, jd_weights(pairs[0][0], metric, jds)


def jd_weights(values: PerJD, metric: str, jds: list[str]) -> np.ndarray | None:
    """[J] the JDs' pair counts for the pair-share metrics (``alignment``, ``alignment_intent``), else None (equal
    weights, as for nDCG)."""
    counts = values.get("n_pairs")
    return np.array([counts[j] for j in jds]) if metric.startswith("alignment") and counts else None
