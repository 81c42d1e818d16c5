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

    .venv/bin/python -m experiments.benchmarks ann_scale
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

import numpy as np

from experiments.benchmarks.common import alternate, bench_result, median, target
from jobmatch.retrieval.search import (
    EXACT_EVALUATION_MAX,
    INDEX_KINDS,
    build_index,
    choose_index_kind,
    recall_against_exact,
    search,
)

DIM = 384
CLUSTERS = 1000
TOPICS = 50  # clusters share topics: graded similarity, as between research fields
TOPIC_SPREAD = 1.0  # norm of a cluster centre's own direction relative to its topic's
LATENT = 64  # dimension of the subspace the clusters spread in
SPREAD = 0.35  # per-coordinate std of a point around its cluster centre, in the latent subspace
NOISE = 0.02  # per-coordinate std of the full-rank noise
K = 100
QUERIES = 1000
ANN_MAX_N = 100_000  # IVF/HNSW builds above this size are extrapolated unless JOBMATCH_BENCH_ANN_FULL=1
LARGE_QUERIES = 250  # queries actually searched above ANN_MAX_N (exact search is linear in them)


def settings_for(quick: bool) -> dict[str, Any]:
    """The benchmark's settings (full or quick)."""
    full = os.environ.get("JOBMATCH_BENCH_ANN_FULL", "") not in ("", "0")
    return {
        "model": f"synthetic embeddings, d={DIM} (all-MiniLM-L6-v2's size)",
        "data": f"Gaussian mixture: {CLUSTERS} clusters in {TOPICS} topics, spread in a {LATENT}-d subspace, + noise",
        "batch": 100 if quick else QUERIES,
        "batch_note": "queries per evaluation (searched in one call); eval_s is build + search of these",
        "lengths": "n/a (vectors)",
        "precision": "float32",
        "sizes": [1_000, 10_000] if quick else [10_000, 100_000, 1_000_000],
        "ann_measured_up_to": None if full or quick else ANN_MAX_N,
        "large_queries": LARGE_QUERIES,
        "k": K,
        "repetitions": 1 if quick else 2,
        "index_params": "IVF nlist=4*sqrt(N), nprobe=nlist/8; HNSW M=32, efConstruction=40, efSearch=max(64, k)",
        "threads": "FAISS default (all cores)",
        "extrapolation": "above ann_measured_up_to, IVF/HNSW builds are extrapolated linearly in N from the "
        "largest measured size: a lower bound (HNSW insertion grows with log N, IVF k-means with N^1.5); "
        "JOBMATCH_BENCH_ANN_FULL=1 measures them (about 15 min on 2 cores)",
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


def measure_size(
    corpus: np.ndarray, queries: np.ndarray, reps: int, kinds: tuple[str, ...], eval_queries: int
) -> list[dict[str, Any]]:
    """One row per measured index kind: build_s, search time, recall@K, and ``eval_s`` = build + search of
    ``eval_queries`` queries (from the measured per-query time)."""
    indexes, build_s = {}, {}
    for kind in kinds:
        start = time.perf_counter()
        indexes[kind] = build_index(corpus, kind)
        build_s[kind] = time.perf_counter() - start
    results: dict[str, np.ndarray] = {}

    def searcher(kind: str):
        def call() -> None:
            results[kind] = search(indexes[kind], queries, K)[1]  # [Q, K] indices

        return call

    times = alternate({kind: searcher(kind) for kind in kinds}, repetitions=reps, warmup=0)
    rows = []
    n, q = len(corpus), len(queries)
    for kind in kinds:
        per_query = median(times[kind]) / q
        rows.append(
            {
                "n": n,
                "index": kind,
                "measured": "yes",
                "queries_searched": q,
                "build_s": round(build_s[kind], 3),
                "search_ms_per_query": round(1000 * per_query, 4),
                "recall@100": round(recall_against_exact(results[kind], results["flat"], K), 4),
                "eval_s": round(build_s[kind] + per_query * eval_queries, 3),
                "auto": choose_index_kind(n, EXACT_EVALUATION_MAX) == kind,
            }
        )
    return rows


def extrapolated(row: dict[str, Any], n: int) -> dict[str, Any]:
    """A lower bound for ``row``'s index kind at size ``n``: its build scaled linearly in N, no search."""
    build = row["build_s"] * n / row["n"]
    return {
        "n": n,
        "index": row["index"],
        "measured": f"no: build >= {row['build_s']:.1f} s x {n // row['n']} (linear from n={row['n']})",
        "queries_searched": 0,
        "build_s": round(build, 1),
        "search_ms_per_query": None,
        "recall@100": None,
        "eval_s": round(build, 1),
        "auto": choose_index_kind(n, EXACT_EVALUATION_MAX) == row["index"],
    }


def run(quick: bool = False) -> dict:
    """Search cost and recall per corpus size; targets: the ``auto`` choice is right at every size."""
    settings = settings_for(quick)
    limit = settings["ann_measured_up_to"]
    mixture = Mixture(seed=0)
    queries = mixture.sample(settings["batch"], stream=1)  # [Q, D]
    rows: list[dict[str, Any]] = []
    for n in settings["sizes"]:
        corpus = mixture.sample(n, stream=0)  # [N, D]
        if limit is None or n <= limit:
            rows += measure_size(corpus, queries, settings["repetitions"], INDEX_KINDS, len(queries))
        else:
            rows += measure_size(corpus, queries[:LARGE_QUERIES], 1, ("flat",), len(queries))
            largest = max(r["n"] for r in rows if r["measured"] == "yes" and r["index"] != "flat")
            rows += [extrapolated(r, n) for r in rows if r["n"] == largest and r["index"] != "flat"]
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
    """Per size: the ``auto`` kind's evaluation cost relative to the cheapest kind whose recall@100 is
    >= 0.95 (flat, exact, always qualifies; extrapolated rows count by their build lower bound)."""
    out = []
    for n in sorted({r["n"] for r in rows}):
        at = [r for r in rows if r["n"] == n]
        good = [r for r in at if r["recall@100"] is None or r["recall@100"] >= 0.95]
        best = min(good, key=lambda r: r["eval_s"])
        chosen = next(r for r in at if r["auto"])
        recall = "not measured" if chosen["recall@100"] is None else f"{chosen['recall@100']:.3f}"
        out.append(
            target(
                f"n={n}: eval cost of auto ({chosen['index']}) / best ({best['index']})",
                chosen["eval_s"] / max(best["eval_s"], 1e-9),
                "<=",
                1.0,
                note=f"auto's recall@100 {recall}; best: cheapest build + search with recall >= 0.95",
            )
        )
    return out
