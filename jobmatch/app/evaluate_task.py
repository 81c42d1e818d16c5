"""The evaluation task: retrieval metrics of a checkpoint on the test split, with baselines
(``python -m jobmatch.evaluate``)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from jobmatch.app.builders import (
    build_datamodule,
    build_loggers,
    container,
    embedding_cache,
    encode_settings,
    log_results,
    retrieval_options,
)
from jobmatch.app.run_dir import check_writable_options, resolve_run_dir
from jobmatch.app.validation import validate_config
from jobmatch.app.wandb_meta import pin_launch
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.model.checkpoint import check_checkpoint
from jobmatch.model.loading import checkpoint_model_config, load_encoder
from jobmatch.retrieval.bm25 import bm25_run
from jobmatch.retrieval.encode import EmbeddingCache
from jobmatch.retrieval.encoder_eval import ModelEncodings, RetrievalResult
from jobmatch.retrieval.metrics import per_query_metrics, retrieval_metrics
from jobmatch.utils.bootstrap import PER_QUERY_FILE
from jobmatch.utils.run import peak_memory_mb, write_results

log = logging.getLogger(__name__)
TABLE_KEYS = ("ndcg@20", "mrr@10", "recall@100", "ndcg@10", "recall@20")
PER_QUERY_CUTOFFS = (20, 100)  # per-JD nDCG@20 and Recall@100, for paired comparisons across runs and seeds


def checkpoint_encodings(cfg: DictConfig, ckpt: str | None, cache: EmbeddingCache | None) -> ModelEncodings:
    """One checkpoint (``None``: the untrained model of ``cfg.model``), loaded once; every split it evaluates
    shares its corpus embeddings."""
    return ModelEncodings(load_encoder(ckpt, container(cfg.model)), encode_settings(cfg), cache)


def evaluate_checkpoint(
    cfg: DictConfig, ckpt: str | None, rset: RetrievalSet, cache: EmbeddingCache | None
) -> RetrievalResult:
    """Retrieval metrics of one checkpoint (``None``: the untrained model of ``cfg.model``) on one set."""
    return checkpoint_encodings(cfg, ckpt, cache).evaluate(rset, **retrieval_options(cfg))


def write_run(path: Path, run: dict[str, dict[str, float]], tag: str) -> None:
    """Ranked lists in TREC run format: ``qid Q0 docid rank score tag``."""
    with path.open("w") as handle:
        for qid, docs in run.items():
            ranked = sorted(docs.items(), key=lambda item: (-item[1], item[0]))
            for rank, (doc, score) in enumerate(ranked, start=1):
                handle.write(f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n")


def per_query_values(result: RetrievalResult, rset: RetrievalSet, prefix: str = "") -> dict[str, dict[str, float]]:
    """{``prefix`` + metric: {JD id: value}} for nDCG@20 and Recall@100 of one evaluated split."""
    values = per_query_metrics(result.run, rset.qrels, PER_QUERY_CUTOFFS, variants=False)
    return {f"{prefix}{name}": dict(zip(values.query_ids, values.values[name].tolist(), strict=True))
            for name in ("ndcg@20", "recall@100")}


def markdown_table(rows: dict[str, dict[str, float]], keys: tuple[str, ...] = TABLE_KEYS) -> str:
    """A markdown table: one row per system, one column per metric."""
    lines = ["| system | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, metrics in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{metrics.get(k, float('nan')):.4f}" for k in keys) + " |")
    return "\n".join(lines)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate ``cfg.ckpt`` (and the baselines) on the test split; write results, runs and a table."""
    validate_config(cfg)
    check_writable_options({"paths.cache_dir": cfg.paths.cache_dir})  # corpus stores and embeddings are cached there
    ckpt = cfg.get("ckpt")
    if ckpt:  # intact, a jobmatch checkpoint, and of the model this run's config records: before any data loads
        check_checkpoint(ckpt, "ckpt", model=container(cfg.model))
    pin_launch(cfg, "evaluate")
    run_dir = resolve_run_dir(cfg)
    datamodule = build_datamodule(cfg)
    rset = datamodule.test_retrieval()
    cache = embedding_cache(cfg)
    systems: dict[str, dict[str, float]] = {}
    results: dict[str, Any] = {"data/queries": len(rset.queries), "data/corpus": len(rset.corpus)}

    model = checkpoint_encodings(cfg, ckpt, cache)  # the corpus is encoded once for the test and OOD splits
    main = model.evaluate(rset, **retrieval_options(cfg))
    systems["model" if ckpt else "base"] = main.metrics
    results.update({f"test/{k}": v for k, v in main.metrics.items()})
    results.update(main.timings)
    write_run(run_dir / "run.trec", main.run, "jobmatch")
    per_query = per_query_values(main, rset)
    ood = datamodule.test_ood_retrieval()
    if ood is not None:  # the out-of-distribution split, beside the test split
        ood_result = model.evaluate(ood, **retrieval_options(cfg))
        results.update({f"test_ood/{k}": v for k, v in ood_result.metrics.items()})
        per_query.update(per_query_values(ood_result, ood, prefix="ood_"))
    (run_dir / PER_QUERY_FILE).write_text(json.dumps(per_query) + "\n")
    del model  # its weights: the base model below loads its own
    baselines = list(cfg.eval.baselines or [])
    if "base" in baselines and ckpt:
        base_cfg = cfg.copy()
        base_cfg.model = checkpoint_model_config(ckpt)
        base = evaluate_checkpoint(base_cfg, None, rset, cache)
        systems["base"] = base.metrics
        results.update({f"base/{k}": v for k, v in base.metrics.items()})
    if "bm25" in baselines:
        start = time.perf_counter()
        run = bm25_run(rset.queries, rset.corpus, k=int(cfg.eval.k))
        bm25 = retrieval_metrics(run, rset.qrels, tuple(cfg.eval.cutoffs))
        systems["bm25"] = bm25
        results.update({f"bm25/{k}": v for k, v in bm25.items()})
        results["time/bm25_s"] = time.perf_counter() - start
        write_run(run_dir / "run_bm25.trec", run, "bm25")
    results["memory/peak_rss_mb"] = peak_memory_mb()
    table = markdown_table(systems)
    (run_dir / "table.md").write_text(table + "\n")
    write_results(run_dir, results)
    log_results(cfg, build_loggers(cfg, "evaluate"), results, run_dir)
    print(table)
    log.info("results: %s", json.dumps({k: round(v, 4) for k, v in main.metrics.items() if "@" in k}))
    return results
