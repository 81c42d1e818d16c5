"""FAISS nearest-neighbour search over L2-normalised embeddings (inner product = cosine).

Three index kinds: ``flat`` (exact), ``ivf`` (inverted lists, trained by seeded k-means) and
``hnsw`` (graph). Embeddings are expected L2-normalised float32 (the encoder's output); the
functions here do not normalise, so that scores stay the model's cosine similarities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where a search runs: training code reads INDEX_KINDS without FAISS installed
    import faiss

INDEX_KINDS = ("flat", "ivf", "hnsw")


def set_threads(threads: int | None) -> None:
    """Cap FAISS's OpenMP threads (process-wide); ``None`` leaves the current setting."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        import faiss

        faiss.omp_set_num_threads(threads)


# The largest corpus an ``index: auto`` searches exactly. Two uses, two budgets:
# - serving (``index``/``rank``) answers one JD at a time within a latency budget. Measured by
#   experiments/benchmarks/index_scale.py (2-core CPU shared with other jobs, d = 384, clustered unit vectors,
#   k = 100; index_scale.json): at 10^5 vectors one exact query costs ~24 ms on one thread (p50), within a
#   50 ms per-JD budget; 530 ms at 10^6. HNSW (M = 32) answers in well under a millisecond at recall@100
#   ~0.95 and needs no training pass, so an index fills shard by shard.
# - evaluation searches all its JDs in one batched pass, where exact search is a matrix product and its
#   metrics stay exact. Measured by experiments/benchmarks/ann_scale.py: up to 10^6 vectors flat was the
#   cheapest kind (build + search) at recall 1.0 for an evaluation's queries.
EXACT_SERVING_MAX = 100_000
EXACT_EVALUATION_MAX = 1_000_000


def choose_index_kind(n: int, threshold: int = EXACT_SERVING_MAX) -> str:
    """``"flat"`` (exact search) for corpora of at most ``threshold`` passages, else ``"hnsw"``.

    ``threshold`` is :data:`EXACT_SERVING_MAX` for an index that answers one JD at a time and
    :data:`EXACT_EVALUATION_MAX` for an evaluation's batched search (see the measurements there); beyond
    it HNSW keeps queries sub-linear without the training pass that IVF needs, so that an index can be
    filled shard by shard.
    """
    return "flat" if n <= threshold else "hnsw"


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as a C-contiguous float32 [N, D] array, as FAISS requires."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty [N, D] array, got shape {x.shape}")
    return x


def build_index(
    embeddings: np.ndarray,
    kind: str = "flat",
    *,
    nlist: int | None = None,
    nprobe: int | None = None,
    seed: int = 0,
    M: int = 32,
    ef_construction: int = 40,
    ef_search: int = 64,
    threads: int | None = None,
) -> faiss.Index:
    """An inner-product FAISS index holding ``embeddings`` (row i gets id i).

    Args:
        embeddings: [N, D] L2-normalised passage embeddings.
        kind: ``flat`` (IndexFlatIP, exact), ``ivf`` (IndexIVFFlat) or ``hnsw`` (IndexHNSWFlat).
        nlist: ivf: number of k-means cells; default round(4·√N), at most N/39 (FAISS's minimum
            of 39 training points per centroid) and at least 1.
        nprobe: ivf: cells visited per query (higher: better recall, slower); default ⌈nlist/8⌉, a
            start for clustered embeddings: check it with :func:`recall_against_exact`.
        seed: ivf: k-means seed, so that the same data gives the same index.
        M: hnsw: graph neighbours per node (higher: better recall, more memory).
        ef_construction: hnsw: candidate list size while building.
        ef_search: hnsw: candidate list size while searching (higher: better recall, slower).
        threads: FAISS OpenMP threads (process-wide); ``None`` leaves the setting as it is.
    Returns:
        The trained index with all N vectors added.
    """
    set_threads(threads)
    x = _as_matrix(embeddings, "embeddings")
    index = new_index(kind, x.shape[1], len(x), nlist=nlist, nprobe=nprobe, seed=seed, M=M,
                      ef_construction=ef_construction, ef_search=ef_search)
    if not index.is_trained:
        index.train(x)
    index.add(x)
    return index


def new_index(
    kind: str,
    dim: int,
    n: int,
    *,
    nlist: int | None = None,
    nprobe: int | None = None,
    seed: int = 0,
    M: int = 32,
    ef_construction: int = 40,
    ef_search: int = 64,
) -> faiss.Index:
    """An empty inner-product index of ``kind`` for about ``n`` vectors of ``dim`` (parameters as in
    :func:`build_index`); an ``ivf`` index must be trained (``index.train(sample)``) before vectors are added."""
    import faiss

    if kind == "flat":
        return faiss.IndexFlatIP(dim)
    if kind == "ivf":
        nlist = nlist or max(1, min(round(4 * math.sqrt(n)), n // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.nprobe = nprobe or math.ceil(nlist / 8)
        return index
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
        return index
    raise ValueError(f"unknown index kind {kind!r}; choose one of {INDEX_KINDS}")


def search(
    index: faiss.Index, queries: np.ndarray, k: int, *, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The top-k passages of each query by inner product.

    Args:
        index: from :func:`build_index`.
        queries: [Q, D] L2-normalised query embeddings.
        k: passages per query; with fewer than k in the index the tail has index -1.
        threads: FAISS OpenMP threads (process-wide); ``None`` leaves the setting as it is.
    Returns:
        scores: [Q, k] float32 cosine similarities, descending per row.
        indices: [Q, k] int64 passage row indices (-1 where no passage was found).
    """
    set_threads(threads)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    scores, indices = index.search(_as_matrix(queries, "queries"), k)
    return scores, indices


def to_run(
    query_ids: Sequence[str], doc_ids: Sequence[str], scores: np.ndarray, indices: np.ndarray
) -> dict[str, dict[str, float]]:
    """``{query_id: {doc_id: score}}`` from search results, skipping -1 indices.

    Args:
        query_ids: Q ids, one per row of ``scores``.
        doc_ids: N ids, one per passage row of the index.
        scores, indices: [Q, k] from :func:`search`.
    """
    if len(query_ids) != len(scores) or scores.shape != indices.shape:
        raise ValueError(f"{len(query_ids)} query ids for scores {scores.shape} and indices {indices.shape}")
    return {
        qid: {doc_ids[j]: float(s) for s, j in zip(row_scores, row_indices, strict=True) if j >= 0}
        for qid, row_scores, row_indices in zip(query_ids, scores, indices, strict=True)
    }


def recall_against_exact(approx_indices: np.ndarray, exact_indices: np.ndarray, k: int) -> float:
    """ANN recall@k: the mean fraction of each query's exact top k that the approximate top k found.

    Args:
        approx_indices: [Q, ≥k] indices from an approximate index.
        exact_indices: [Q, ≥k] indices from exact (flat) search.
        k: cutoff. A query whose exact list holds m < k valid indices is divided by m.
    """
    approx, exact = approx_indices[:, :k], exact_indices[:, :k]  # [Q, k]
    found = (approx[:, :, None] == exact[:, None, :]) & (exact[:, None, :] >= 0)  # [Q, k, k]
    n_exact = np.maximum((exact >= 0).sum(axis=1), 1)  # [Q]
    return float(np.mean(found.any(axis=1).sum(axis=1) / n_exact))
