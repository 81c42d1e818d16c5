"""Exact rankings of a whole corpus, a chunk of JDs at a time: top-k lists and the ranks of given talents.

The score of a (JD, talent) pair is the inner product of their embeddings (float32, as
``queries @ corpus.T`` gives it). A JD's ranking orders talents by score descending, ties by talent row
ascending (a stable sort of the negated scores). Only one chunk of [B, N] scores exists at a time (B chosen
so that it holds at most :data:`CHUNK_SCORES` floats), so memory is linear in the corpus; every score of
the ranking is computed once per call, and no row is sorted whole: each keeps only the talents that can
rank above those asked for.

FAISS's flat search returns the same top-k scores; this module exists for what it cannot give: the rank
of a given talent deep in a ranking (the audit's counterfactual rank shifts) and a documented order of ties.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

CHUNK_SCORES = 1 << 24  # floats per chunk of scores: 64 MiB of float32


def query_chunks(n_queries: int, n_corpus: int, chunk_scores: int | None = None) -> Iterator[slice]:
    """Consecutive slices of JD rows, each with at most ``chunk_scores`` scores (default :data:`CHUNK_SCORES`;
    at least one JD)."""
    step = max(1, (chunk_scores or CHUNK_SCORES) // max(n_corpus, 1))
    for start in range(0, n_queries, step):
        yield slice(start, min(start + step, n_queries))


def _ordered(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``rows`` sorted by score descending, ties by row ascending."""
    return rows[np.lexsort((rows, -scores[rows]))]


def top_k(queries: np.ndarray, corpus: np.ndarray, k: int, *, chunk_scores: int | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Each JD's best ``k`` talents (``min(k, N)``), in ranking order.

    Args:
        queries: [Q, D] JD embeddings.
        corpus: [N, D] talent embeddings.
        k: list length.
    Returns:
        scores: [Q, k'] float32, descending per row; rows: [Q, k'] int64 talent rows (k' = min(k, N)).
    """
    n = len(corpus)
    k = min(k, n)
    out_rows = np.zeros((len(queries), k), dtype=np.int64)
    out_scores = np.zeros((len(queries), k), dtype=np.float32)
    if k == 0:
        return out_scores, out_rows
    for part in query_chunks(len(queries), n, chunk_scores):
        scores = queries[part] @ corpus.T  # [B, N]
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]  # [B] the k-th best score of each row
        for i, row in enumerate(scores):
            candidates = np.flatnonzero(row >= kth[i])  # the top k and any talent tied with the k-th
            best = _ordered(row, candidates)[:k]
            out_rows[part.start + i], out_scores[part.start + i] = best, row[best]
    return out_scores, out_rows


def ranks_of(queries: np.ndarray, corpus: np.ndarray, rows: np.ndarray, *, chunk_scores: int | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """The rank (0 = best) and score of given talents in each JD's ranking of the whole corpus.

    Args:
        queries: [Q, D] JD embeddings.
        corpus: [N, D] talent embeddings.
        rows: [Q, m] talent rows asked for, per JD.
    Returns:
        ranks: [Q, m] int64; scores: [Q, m] float32.
    """
    ranks = np.zeros(rows.shape, dtype=np.int64)
    found = np.zeros(rows.shape, dtype=np.float32)
    if rows.shape[1] == 0:
        return ranks, found
    for part in query_chunks(len(queries), len(corpus), chunk_scores):
        scores = queries[part] @ corpus.T  # [B, N]
        for i, row in enumerate(scores):
            asked = rows[part.start + i]  # [m]
            candidates = np.flatnonzero(row >= row[asked].min())  # every talent that can rank above one asked for
            position = np.empty(len(candidates), dtype=np.int64)
            position[np.lexsort((candidates, -row[candidates]))] = np.arange(len(candidates))
            ranks[part.start + i] = position[np.searchsorted(candidates, asked)]
            found[part.start + i] = row[asked]
    return ranks, found
