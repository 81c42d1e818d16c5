"""Evaluation search cost as the corpus grows: exact (flat) vs IVF vs HNSW, with recall@100.

Synthetic embeddings of MiniLM's size (d = 384), seeded: a Gaussian mixture (1000 clusters of
uniform weight whose centres group into 50 topics) spread mostly in a 64-dimensional subspace, plus
a little full-rank noise, then L2-normalised. Text embeddings look like this (a low intrinsic
dimension, topical clusters); uniform random unit vectors would be a worst case for any ANN index.
Queries are fresh draws from the same mixture. Indexes are built with the defaults of
:func:`jobmatch.retrieval.search.build_index` (IVF: nlist = 4·√N, nprobe = nlist/8; HNSW: M = 32,
efConstruction = 40, efSearch = 64, raised to k by FAISS), as ``eval.index`` would build them.

Per corpus size: build seconds (one build), search seconds for all queries (median of the
repetitions, kinds alternating), recall@100 against exact search, and the evaluation cost
build + search for the query set, which is what an evaluation run pays once.

    .venv/bin/python -m jobmatch.bench ann_scale
"""

from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np

from jobmatch.bench.common import alternate, bench_result, median, target
from jobmatch.retrieval.search import INDEX_KINDS, build_index, choose_index_kind, recall_against_exact, search

DIM = 384
CLUSTERS = 1000
TOPICS = 50  # clusters share topics: graded similarity, as between research fields
TOPIC_SPREAD = 1.0  # norm of a cluster centre's own direction relative to its topic's
LATENT = 64  # dimension of the subspace the clusters spread in
SPREAD = 0.35  # per-coordinate std of a point around its cluster centre, in the latent subspace
NOISE = 0.02  # per-coordinate std of the full-rank noise
K = 100


def settings_for(quick: bool) -> dict[str, Any]:
    """The benchmark's settings (full or quick)."""
    return {
        "model": f"synthetic embeddings, d={DIM} (all-MiniLM-L6-v2's size)",
        "data": f"Gaussian mixture: {CLUSTERS} clusters in {TOPICS} topics, spread in a {LATENT}-d subspace, + noise",
        "batch": 100 if quick else 1000,
        "batch_note": "queries searched in one call",
        "lengths": "n/a (vectors)",
        "precision": "float32",
        "sizes": [1_000, 10_000] if quick else [10_000, 100_000, 1_000_000],
        "k": K,
        "repetitions": 1 if quick else 3,
        "index_params": "IVF nlist=4*sqrt(N), nprobe=nlist/8; HNSW M=32, efConstruction=40, efSearch=max(64, k)",
        "threads": "FAISS default (all cores)",
    }


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` [n, D] scaled to unit norm (in place)."""
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


class Mixture:
    """A seeded generator of clustered unit vectors [n, DIM] (float32), drawn in chunks."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        topics = _unit(rng.standard_normal((TOPICS, DIM), dtype=np.float32))  # [T, D]
        own = _unit(rng.standard_normal((CLUSTERS, DIM), dtype=np.float32))  # [C, D]
        self.centres = _unit(topics[np.arange(CLUSTERS) % TOPICS] + TOPIC_SPREAD * own)  # [C, D]
        basis, _ = np.linalg.qr(rng.standard_normal((DIM, LATENT)))  # [D, LATENT], orthonormal columns
        self.basis = basis.T.astype(np.float32)  # [LATENT, D]
        self.seed = seed

    def sample(self, n: int, stream: int, chunk: int = 100_000) -> np.ndarray:
        """``n`` vectors from random stream ``stream`` (corpus and queries use different streams)."""
        rng = np.random.default_rng((self.seed, stream))
        out = np.empty((n, DIM), dtype=np.float32)
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            cluster = rng.integers(0, CLUSTERS, m)  # [m]
            latent = rng.standard_normal((m, LATENT), dtype=np.float32) * np.float32(SPREAD * np.sqrt(DIM / LATENT))
            x = self.centres[cluster] + latent @ self.basis / np.float32(np.sqrt(DIM))  # [m, D]
            x += rng.standard_normal((m, DIM), dtype=np.float32) * np.float32(NOISE)
            out[start : start + m] = _unit(x)
        return out


def measure_size(corpus: np.ndarray, queries: np.ndarray, reps: int) -> list[dict[str, Any]]:
    """One row per index kind for this corpus: build_s, search_s (all queries), recall@K, eval_s."""
    indexes, build_s = {}, {}
    for kind in INDEX_KINDS:
        start = time.perf_counter()
        indexes[kind] = build_index(corpus, kind)
        build_s[kind] = time.perf_counter() - start
    results: dict[str, np.ndarray] = {}

    def searcher(kind: str):
        def call() -> None:
            results[kind] = search(indexes[kind], queries, K)[1]  # [Q, K] indices

        return call

    times = alternate({kind: searcher(kind) for kind in INDEX_KINDS}, repetitions=reps, warmup=0)
    rows = []
    n, q = len(corpus), len(queries)
    for kind in INDEX_KINDS:
        search_s = median(times[kind])
        rows.append(
            {
                "n": n,
                "index": kind,
                "build_s": round(build_s[kind], 3),
                "search_s": round(search_s, 4),
                "search_ms_per_query": round(1000 * search_s / q, 4),
                "recall@100": round(recall_against_exact(results[kind], results["flat"], K), 4),
                "eval_s": round(build_s[kind] + search_s, 3),
                "auto": choose_index_kind(n) == kind,
            }
        )
    return rows


def run(quick: bool = False) -> dict:
    """Search cost and recall per corpus size; targets: the ``auto`` choice is right at every size."""
    settings = settings_for(quick)
    mixture = Mixture(seed=0)
    queries = mixture.sample(settings["batch"], stream=1)  # [Q, D]
    rows: list[dict[str, Any]] = []
    for n in settings["sizes"]:
        corpus = mixture.sample(n, stream=0)  # [N, D]
        rows += measure_size(corpus, queries, settings["repetitions"])
        del corpus
        gc.collect()
    return bench_result(
        "ann_scale",
        "Evaluation search vs corpus size: exact vs IVF vs HNSW (build + search, recall@100)",
        settings,
        rows,
        targets_for(rows),
    )


def targets_for(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per size: the ``auto`` kind's evaluation cost relative to the cheapest kind with recall@100 >= 0.95."""
    out = []
    for n in sorted({r["n"] for r in rows}):
        at = [r for r in rows if r["n"] == n]
        good = [r for r in at if r["recall@100"] >= 0.95]
        best = min(good, key=lambda r: r["eval_s"])
        chosen = next(r for r in at if r["auto"])
        out.append(
            target(
                f"n={n}: auto ({chosen['index']}) eval cost / best ({best['index']})",
                chosen["eval_s"] / max(best["eval_s"], 1e-9),
                "<=",
                1.5,
                note=f"auto recall@100 {chosen['recall@100']:.3f}; best = cheapest with recall >= 0.95",
            )
        )
    return out
