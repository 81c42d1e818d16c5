"""Candidate pairs per JD from a model's top-K ranking: which pairs the judge is asked about.

Strategies (``annotate.sampler``), each deterministic given the generator:

- ``uniform``: pairs uniformly from all k·(k−1)/2;
- ``stratified``: a rank-gap stratum first (gaps [1, 5), [5, 20), [20, k)), then a pair in it;
- ``uncertainty``: the pairs the ranking model is least sure of: uniformly among the 2n pairs of the
  smallest score gap |s_i − s_j| (needs ``scores``);
- ``disagreement``: pairs where the model's rank and the rule-based relevance disagree (a talent that is
  not a rule positive ranked above one that is), then uniform pairs for the rest of the budget (needs
  ``relevant``);
- ``rank_strata``: diversity across the ranking: the top-K cut into three equal rank strata, the pairs
  dealt round-robin over the six (stratum, stratum) combinations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SAMPLERS: tuple[str, ...] = ("uniform", "stratified", "uncertainty", "disagreement", "rank_strata")
UNCERTAINTY_POOL = 2  # uncertainty: draw n pairs from the POOL·n pairs of smallest score gap
RANK_STRATA = 3


def _all_pairs(k: int) -> np.ndarray:
    """[k·(k−1)/2, 2] every rank pair (i, j), i < j, in lexicographic order."""
    i, j = np.triu_indices(k, 1)
    return np.stack([i, j], axis=1)


def _draw(pool: np.ndarray, n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``n`` rows of ``pool`` [M, 2] uniformly without replacement (all of them when M ≤ n), in drawn order."""
    rows = rng.permutation(len(pool))[:n]
    return [(int(pool[r, 0]), int(pool[r, 1])) for r in rows]


def _uniform_or_gap(k: int, n_pairs: int, strategy: str, rng: np.random.Generator,
                    gap_edges: Sequence[int]) -> list[tuple[int, int]]:
    """``uniform`` or ``stratified`` (by rank gap), rejection-sampled, each pair in random A/B order."""
    edges = [e for e in gap_edges if e < k] + [k]
    chosen: set[tuple[int, int]] = set()
    out: list[tuple[int, int]] = []
    attempts = 0
    while len(out) < n_pairs and attempts < 100 * n_pairs:
        attempts += 1
        if strategy == "uniform":
            i, j = sorted(rng.choice(k, size=2, replace=False).tolist())
        else:
            s = int(rng.integers(len(edges) - 1))
            gap = int(rng.integers(edges[s], edges[s + 1]))
            i = int(rng.integers(0, k - gap))
            j = i + gap
        if (i, j) not in chosen:
            chosen.add((i, j))
            out.append((i, j) if rng.random() < 0.5 else (j, i))
    return out


def _uncertain(k: int, n_pairs: int, scores: Sequence[float], rng: np.random.Generator) -> list[tuple[int, int]]:
    pairs = _all_pairs(k)  # [M, 2]
    s = np.asarray(scores, dtype=np.float64)[:k]
    gap = np.abs(s[pairs[:, 0]] - s[pairs[:, 1]])  # [M]
    pool = pairs[np.argsort(gap, kind="stable")[: UNCERTAINTY_POOL * n_pairs]]
    return _draw(pool, n_pairs, rng)


def _disagreeing(k: int, n_pairs: int, relevant: Sequence[bool], rng: np.random.Generator) -> list[tuple[int, int]]:
    pairs = _all_pairs(k)  # [M, 2]: pairs[:, 0] ranked above pairs[:, 1]
    rel = np.asarray(relevant, dtype=bool)[:k]
    against = ~rel[pairs[:, 0]] & rel[pairs[:, 1]]  # [M] a non-positive above a positive
    out = _draw(pairs[against], n_pairs, rng)
    if len(out) < n_pairs:
        out += _draw(pairs[~against], n_pairs - len(out), rng)
    return out


def _strata(k: int, n_pairs: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    bounds = np.linspace(0, k, RANK_STRATA + 1).round().astype(int)
    stratum = np.searchsorted(bounds, np.arange(k), side="right") - 1  # [k] the stratum of every rank
    pairs = _all_pairs(k)
    combos = [(a, b) for a in range(RANK_STRATA) for b in range(a, RANK_STRATA)]
    pools = [rng.permutation(pairs[(stratum[pairs[:, 0]] == a) & (stratum[pairs[:, 1]] == b)]) for a, b in combos]
    order = rng.permutation(len(combos))
    out: list[tuple[int, int]] = []
    taken = [0] * len(combos)
    while len(out) < n_pairs:
        before = len(out)
        for c in order.tolist():
            if len(out) < n_pairs and taken[c] < len(pools[c]):
                i, j = pools[c][taken[c]]
                out.append((int(i), int(j)))
                taken[c] += 1
        if len(out) == before:
            break
    return out


def sample_rank_pairs(
    k: int, n_pairs: int, *, strategy: str = "uniform", rng: np.random.Generator,
    gap_edges: Sequence[int] = (1, 5, 20), scores: Sequence[float] | None = None,
    relevant: Sequence[bool] | None = None,
) -> list[tuple[int, int]]:
    """Distinct unordered rank pairs (i, j), i < j < k, each in random A/B order (strategies: module docstring).

    Args:
        k: candidates in the JD's ranking (ranks 0..k−1, 0 = the model's top talent).
        n_pairs: pairs wanted (capped at k·(k−1)/2).
        strategy: one of ``SAMPLERS``.
        rng: the JD's generator; the same generator gives the same pairs.
        gap_edges: ``stratified``'s rank-gap strata.
        scores: [≥k] the ranking model's scores of the ranks, descending (``uncertainty``).
        relevant: [≥k] whether each rank's talent is a rule-based positive of the JD (``disagreement``).
    """
    if strategy not in SAMPLERS:
        raise ValueError(f"strategy='{strategy}' is not one of {SAMPLERS}")
    if strategy == "uncertainty" and scores is None:
        raise ValueError("strategy=uncertainty needs the ranking model's scores")
    if strategy == "disagreement" and relevant is None:
        raise ValueError("strategy=disagreement needs the rule-based relevance of the ranked talents")
    if k < 2:
        return []
    n_pairs = min(n_pairs, k * (k - 1) // 2)
    if strategy in ("uniform", "stratified"):
        return _uniform_or_gap(k, n_pairs, strategy, rng, gap_edges)
    if strategy == "uncertainty":
        pairs = _uncertain(k, n_pairs, scores, rng)  # type: ignore[arg-type]
    elif strategy == "disagreement":
        pairs = _disagreeing(k, n_pairs, relevant, rng)  # type: ignore[arg-type]
    else:
        pairs = _strata(k, n_pairs, rng)
    return [(i, j) if rng.random() < 0.5 else (j, i) for i, j in pairs]  # random presentation order
