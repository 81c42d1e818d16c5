"""FAISS index kinds at 10^5-10^6 talents: build time, memory, query time and recall@100 against flat.

The vectors are the seeded clustered unit vectors of :class:`experiments.benchmarks.ann_scale.Mixture` (d = 384,
MiniLM's size: 1000 clusters in 50 topics, a 64-d latent spread plus noise), queries fresh draws of the
same mixture. Index kinds, as ``jobmatch.retrieval.search.build_index`` builds them:

- ``flat``: exact inner product (IndexFlatIP);
- ``ivf``: IndexIVFFlat, nlist = 4·√N, nprobe = nlist/8, seeded k-means;
- ``hnsw``: IndexHNSWFlat, M = 32, efConstruction = 40, efSearch = max(64, k);
- ``ivfpq``: IndexIVFPQ with the IVF's cells and 48 sub-quantisers of 8 bits (32x smaller codes), same nprobe.

Every index is filled as ``python -m jobmatch.index`` fills it (k-means of ``ivf``/``ivfpq`` on a sample of at
most 10^5 vectors, then the vectors added one 16,384-row shard at a time). Per kind and size: ``build_s``;
``memory_mb``, the process's resident memory added by the index (RSS after the build minus before, the
corpus array excluded); ``serve_ms_p50`` / ``serve_ms_p90``, one query at a time
on one thread (what ``rank`` does per JD); ``batch_ms_per_query``, all queries in one call on every core
(what an evaluation does); ``recall@100`` against flat. One index is held at a time.

    python -m experiments.benchmarks.index_scale                      # 10^5 and 10^6, results next to this file
    python -m experiments.benchmarks.index_scale --sizes 10000 --queries 50 --out /tmp/idx.json   # a smoke run
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from experiments.benchmarks.ann_scale import DIM, Mixture
from experiments.benchmarks.common import rss_mb
from jobmatch.retrieval.search import choose_index_kind, new_index, recall_against_exact, search, set_threads
from jobmatch.retrieval.shard_encode import SHARD_SIZE
from jobmatch.serving.indexing import IVF_TRAINING_ROWS

K = 100
KINDS = ("flat", "ivf", "hnsw", "ivfpq")
HERE = Path(__file__).resolve().parent


def build(corpus: np.ndarray, kind: str) -> Any:
    """One index of ``kind`` over ``corpus`` [N, D], filled as ``index`` fills it: k-means (ivf, ivfpq) on a
    seeded sample of at most ``IVF_TRAINING_ROWS`` vectors, then the vectors added a shard at a time."""
    import faiss

    n, dim = corpus.shape
    if kind == "ivfpq":  # not offered by build_index: measured here as the memory-saving option
        nlist = max(1, min(round(4 * math.sqrt(n)), n // 39))
        index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist, dim // 8, 8, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = 0
        index.nprobe = math.ceil(nlist / 8)
    else:
        index = new_index(kind, dim, n)
    if not index.is_trained:
        sample = np.sort(np.random.default_rng(0).choice(n, size=min(n, IVF_TRAINING_ROWS), replace=False))
        index.train(corpus[sample])
    for start in range(0, n, SHARD_SIZE):
        index.add(corpus[start : start + SHARD_SIZE])
    return index


def measure(corpus: np.ndarray, queries: np.ndarray, kind: str, exact: np.ndarray | None,
            threads: int) -> tuple[dict[str, Any], np.ndarray]:
    """One row for ``kind`` and its [Q, K] result indices (batched search)."""
    gc.collect()
    before = rss_mb()
    set_threads(threads)
    start = time.perf_counter()
    index = build(corpus, kind)
    build_s = time.perf_counter() - start
    memory = rss_mb() - before
    set_threads(1)
    serve = []
    for q in queries:
        start = time.perf_counter()
        search(index, q[None, :], K)
        serve.append(1000 * (time.perf_counter() - start))
    set_threads(threads)
    start = time.perf_counter()
    indices = search(index, queries, K)[1]  # [Q, K]
    batch = 1000 * (time.perf_counter() - start) / len(queries)
    del index
    gc.collect()
    row = {
        "n": len(corpus), "index": kind, "build_s": round(build_s, 2), "memory_mb": round(memory, 1),
        "serve_ms_p50": round(float(np.median(serve)), 3), "serve_ms_p90": round(float(np.percentile(serve, 90)), 3),
        "batch_ms_per_query": round(batch, 3),
        "recall@100": 1.0 if exact is None else round(recall_against_exact(indices, exact, K), 4),
        "auto": choose_index_kind(len(corpus)) == kind,
    }
    return row, indices


def run(sizes: list[int], n_queries: int, threads: int, out: Path, keep: bool = False) -> dict[str, Any]:
    """Measure every kind at every size; the results file is rewritten after each row (``keep``: rows of other
    sizes already in it stay)."""
    mixture = Mixture(seed=0)
    queries = mixture.sample(n_queries, stream=1)  # [Q, D]
    old = json.loads(out.read_text())["rows"] if keep and out.exists() else []
    result: dict[str, Any] = {
        "benchmark": "index_scale", "machine": f"{platform.machine()}, {threads} FAISS threads",
        "settings": {"dim": DIM, "queries": n_queries, "k": K, "kinds": list(KINDS),
                     "ivf_training_rows": IVF_TRAINING_ROWS, "shard_size": SHARD_SIZE},
        "rows": [row for row in old if row["n"] not in sizes],
    }
    for n in sizes:
        corpus = mixture.sample(n, stream=0)  # [N, D]
        exact = None
        for kind in KINDS:
            row, indices = measure(corpus, queries, kind, exact, threads)
            exact = indices if kind == "flat" else exact
            result["rows"].append(row)
            print(json.dumps(row), flush=True)
            out.write_text(json.dumps(result, indent=2) + "\n")
        del corpus
        gc.collect()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2, help="FAISS threads for builds and batched search")
    parser.add_argument("--out", type=Path, default=HERE / "index_scale.json")
    parser.add_argument("--keep", action="store_true", help="keep the rows of other sizes already in --out")
    args = parser.parse_args()
    run(args.sizes, args.queries, args.threads, args.out, args.keep)


if __name__ == "__main__":
    main()
