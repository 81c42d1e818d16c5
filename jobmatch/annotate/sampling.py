"""Candidate pairs per JD from a model's top-K ranking: uniform or stratified by rank gap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SAMPLERS: tuple[str, ...] = ("uniform", "stratified")


def sample_rank_pairs(
    k: int, n_pairs: int, *, strategy: str = "uniform", rng: np.random.Generator,
    gap_edges: Sequence[int] = (1, 5, 20),
) -> list[tuple[int, int]]:
    """Distinct unordered rank pairs (i, j), i < j < k, in random A/B order.

    ``uniform`` draws pairs uniformly from all k·(k-1)/2; ``stratified`` first draws a rank-gap
    stratum uniformly — gaps [1, 5), [5, 20), [20, k) by default — then a pair with a gap in it,
    so that close calls and clear contrasts are both represented.
    """
    if strategy not in SAMPLERS:
        raise ValueError(f"annotate.sampler='{strategy}' is not one of {SAMPLERS}")
    if k < 2:
        return []
    n_pairs = min(n_pairs, k * (k - 1) // 2)
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
        if (i, j) in chosen:
            continue
        chosen.add((i, j))
        out.append((i, j) if rng.random() < 0.5 else (j, i))  # random presentation order
    return out
