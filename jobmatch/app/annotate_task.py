"""The annotation task (``python -m jobmatch.annotate``): rank the corpus per JD with a stage-1 checkpoint,
sample pairs, ask a judge, write preference files split by JD (train JDs → train pairs, val → val, test → test).

The splits' files may hold text rows or id rows; the judge reads the talents' texts from the corpus store.
Preference rows name their talents by corpus id (``passage_id1/2``) unless ``data.write_texts`` is set or
there is no corpus file (the reference format, texts inline)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from jobmatch.annotate.judging import check_success, judge_items
from jobmatch.annotate.redaction import redact_items
from jobmatch.annotate.sampling import sample_rank_pairs
from jobmatch.annotate.sampling_orders import merge_orders, swapped
from jobmatch.app.builders import build_loggers, container, embedding_cache, encode_settings, log_results
from jobmatch.app.judge_builder import build_judge
from jobmatch.app.run_dir import check_writable_options, resolve_run_dir
from jobmatch.app.validation import validate_config
from jobmatch.app.wandb_meta import pin_launch
from jobmatch.data.identities import read_identities
from jobmatch.data.judgement import Item
from jobmatch.data.readers import read_contrastive, write_jsonl
from jobmatch.data.records import PreferenceRecord
from jobmatch.data.retrieval_set import RetrievalSet, build_retrieval_set, open_corpus
from jobmatch.model.loading import load_encoder
from jobmatch.retrieval.encode import model_fingerprint
from jobmatch.retrieval.encoder_eval import embed_set
from jobmatch.retrieval.search import build_index, search
from jobmatch.utils.atomic import write_text_atomic
from jobmatch.utils.run import write_results

log = logging.getLogger(__name__)


def ranked_sets(cfg: DictConfig) -> dict[str, RetrievalSet]:
    """The JDs of each configured split (``annotate.splits``) against one corpus."""
    cache_dir = cfg.paths.cache_dir
    corpus = open_corpus(cfg.data.corpus_file, cache_dir) if cfg.data.get("corpus_file") else None
    files = {split: cfg.data.get(f"{split}_file") for split in cfg.annotate.splits}
    missing = [split for split, path in files.items() if not path]
    if missing:
        raise ValueError(f"annotate.splits names {missing} but data.<split>_file is not set for them")
    records = {split: read_contrastive(path) for split, path in files.items()}
    if corpus is None:  # one corpus for every split: all passages of all files
        every = [r for rows in records.values() for r in rows]
        corpus = build_retrieval_set(every, cache_dir=cache_dir).corpus
    return {split: build_retrieval_set(rows, corpus, cache_dir=cache_dir, source=files[split],
                                       corpus_file=cfg.data.get("corpus_file"))
            for split, rows in records.items()}


def pairs_per_query(annotate_cfg: DictConfig, split: str) -> int:
    """The pair budget of one JD of ``split``: ``pairs_per_query`` for train, ``test_pairs_per_query`` (when set)
    for every held-out split, so that alignment is measured on many pairs while training pairs stay as set."""
    held_out = annotate_cfg.get("test_pairs_per_query")
    return int(annotate_cfg.pairs_per_query if split == "train" or held_out is None else held_out)


def split_sampler(annotate_cfg: DictConfig, split: str) -> str:
    """The pair sampler of ``split``: ``sampler`` for train, ``held_out_sampler`` (when set) for val and test, so
    that alignment is measured on the same pairs whatever strategy chooses the training pairs."""
    held_out = annotate_cfg.get("held_out_sampler")
    return str(annotate_cfg.sampler if split == "train" or held_out is None else held_out)


def plan_pairs(
    cfg: DictConfig, split: str, rset: RetrievalSet, ranked: np.ndarray, scores: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """Candidate pairs of each JD of a split with their ids and ranks (0 = the model's top talent); ``scores``
    [Q, K] are the ranking model's (the ``uncertainty`` sampler reads them)."""
    corpus_ids = rset.corpus.ids
    budget = pairs_per_query(cfg.annotate, split)
    strategy = split_sampler(cfg.annotate, split)
    plans = []
    for q, qid in enumerate(rset.queries):
        rng = np.random.default_rng((int(cfg.seed), sum(qid.encode())))
        top = [j for j in ranked[q].tolist() if j >= 0]
        positives = rset.qrels.get(qid, {})
        relevant = [positives.get(corpus_ids[j], 0) > 0 for j in top]
        for i, j in sample_rank_pairs(len(top), budget, rng=rng, strategy=strategy, relevant=relevant,
                                      scores=None if scores is None else scores[q, : len(top)]):
            plans.append({"split": split, "query_id": qid, "passage_id1": corpus_ids[top[i]],
                          "passage_id2": corpus_ids[top[j]], "passage_rank1": i, "passage_rank2": j})
    return plans


def pair_items(sets: dict[str, RetrievalSet], plans: Sequence[dict[str, Any]]) -> list[Item]:
    """(JD, talent 1, talent 2) texts of every planned pair; each distinct talent is read from the corpus
    once and shared by the pairs that show it."""
    corpus = next(iter(sets.values())).corpus  # one corpus for every split
    ids = list(dict.fromkeys(p[key] for p in plans for key in ("passage_id1", "passage_id2")))
    text_of = dict(zip(ids, corpus.texts(corpus.positions(ids)), strict=True))
    return [(sets[p["split"]].queries[p["query_id"]], text_of[p["passage_id1"]], text_of[p["passage_id2"]])
            for p in plans]


def judge_cost(plans: Sequence[dict[str, Any]], sent: Sequence[Item], orders: int = 1) -> dict[str, int]:
    """Judge calls and the characters of JD and talent text sent (``orders`` calls per pair), per split
    (``annotate/<split>_judge_calls``, ``annotate/<split>_judge_chars``) and in all; a judge that counts tokens
    adds ``judge/prompt_tokens``."""
    out: dict[str, int] = {"annotate/judge_calls": orders * len(plans), "annotate/judge_chars": 0}
    for plan, item in zip(plans, sent, strict=True):
        chars = orders * sum(len(text) for text in item)
        calls_key, chars_key = f"annotate/{plan['split']}_judge_calls", f"annotate/{plan['split']}_judge_chars"
        out[calls_key] = out.get(calls_key, 0) + orders
        out[chars_key] = out.get(chars_key, 0) + chars
        out["annotate/judge_chars"] += chars
    return out


def redact_plans(
    cfg: DictConfig, plans: Sequence[dict[str, Any]], items: list[Item]
) -> tuple[list[Item], dict[str, int] | None]:
    """What the judge is sent: with ``judge.redact``, the items with personal identifiers replaced
    (names from the corpus's ``name`` field and the package's name lists), and the counts."""
    if not cfg.judge.get("redact"):
        return items, None
    names = read_identities(cfg.data.corpus_file).names if cfg.data.get("corpus_file") else {}
    known = [[names[p[k]] for k in ("passage_id1", "passage_id2") if p[k] in names] for p in plans]
    return redact_items(items, known)


def annotate(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Write ``preferences_<split>.jsonl``, ``failures.jsonl`` and ``annotation_summary.json``.

    Raises :class:`UserError` (after writing them) when fewer than ``annotate.min_success`` of the
    pairs were annotated.
    """
    start = time.perf_counter()
    sets = ranked_sets(cfg)
    encoder = load_encoder(cfg.get("ckpt"), container(cfg.model))
    cache = embedding_cache(cfg)
    plans: list[dict[str, Any]] = []
    corpus_emb, index = None, None
    model_fp = model_fingerprint(encoder) if cache else None
    for split, rset in sets.items():  # every split shares one corpus: encode and index it once
        query_emb, corpus_emb, _ = embed_set(encoder, rset, encode_settings(cfg), cache, corpus_emb=corpus_emb,
                                             model_fp=model_fp)
        index = index or build_index(corpus_emb, "flat")
        scores, ranked = search(index, query_emb, min(int(cfg.annotate.top_k), len(corpus_emb)))
        plans += plan_pairs(cfg, split, rset, ranked, scores)
    ranked_s = time.perf_counter() - start
    judge = build_judge(cfg.judge)
    items = pair_items(sets, plans)
    judge_start = time.perf_counter()
    sent, redacted = redact_plans(cfg, plans, items)
    verdicts = judge_items(judge, sent)
    extras: list[dict[str, Any]] = [{} for _ in plans]
    if cfg.annotate.get("judge_both_orders"):  # each pair again as (B, A); the two verdicts give a probability
        merged = [merge_orders(a, b) for a, b in zip(verdicts, judge_items(judge, swapped(sent)), strict=True)]
        verdicts, extras = [m[0] for m in merged], [m[1] for m in merged]
    judge_s = time.perf_counter() - judge_start
    rows: dict[str, list[dict[str, Any]]] = {split: [] for split in sets}
    with_texts = bool(cfg.data.get("write_texts", False)) or not cfg.data.get("corpus_file")
    failures = []
    for plan, item, (verdict, status, error), extra in zip(plans, items, verdicts, extras, strict=True):
        if verdict is None:
            failures.append({**plan, "status": status, "error": error})
            continue
        record = PreferenceRecord(
            query=item[0], passage1=item[1], passage2=item[2], preferred=verdict.preferred,
            confidence_score=float(verdict.confidence_score), query_id=plan["query_id"],
            passage_id1=plan["passage_id1"], passage_id2=plan["passage_id2"], passage_rank1=plan["passage_rank1"],
            passage_rank2=plan["passage_rank2"], model=judge.name, response=verdict.response, extra=extra)
        rows[plan["split"]].append((record if with_texts else record.by_id()).to_json())
    for split, split_rows in rows.items():
        write_jsonl(run_dir / f"preferences_{split}.jsonl", split_rows)
    write_jsonl(run_dir / "failures.jsonl", failures)
    summary: dict[str, Any] = {
        "annotate/requested": len(plans), "annotate/annotated": len(plans) - len(failures),
        "annotate/failed": len(failures), "annotate/unparseable": sum(f["status"] == "unparseable" for f in failures),
        "time/rank_s": ranked_s, "time/judge_s": judge_s,
        "throughput/pairs_per_s": len(plans) / max(judge_s, 1e-9), "annotate/judge": judge.name,
        **{f"annotate/{split}_pairs": len(r) for split, r in rows.items()},
        "annotate/share_A": float(np.mean([r["preferred"] == "A" for rs in rows.values() for r in rs] or [0])),
        **judge_cost(plans, sent, orders=2 if cfg.annotate.get("judge_both_orders") else 1),
    }
    agree = [r["orders_agree"] for rs in rows.values() for r in rs if "orders_agree" in r]
    if agree:
        summary["annotate/orders_agree"] = float(np.mean(agree))
    summary |= {f"annotate/redacted_{kind}": n for kind, n in (redacted or {}).items()}
    extra = getattr(judge, "last_summary", None)
    if extra is not None:
        summary.update({f"judge/{k}": v for k, v in extra.to_dict().items() if isinstance(v, int | float | str)})
    if cfg.judge.get("prompt_template"):
        (run_dir / "prompt_template.txt").write_text(str(cfg.judge.prompt_template))
    write_text_atomic(run_dir / "annotation_summary.json", json.dumps(summary, indent=2) + "\n", "summary")
    log.info("annotation: %s", json.dumps(summary))
    check_success(summary, failures, float(cfg.annotate.get("min_success", 0.0)), run_dir)
    return summary


def run(cfg: DictConfig) -> dict[str, Any]:
    """Annotate into the run directory and write ``results.json``."""
    validate_config(cfg)
    check_writable_options({"paths.cache_dir": cfg.paths.cache_dir})  # corpus stores and embeddings are cached there
    pin_launch(cfg, "annotate")
    run_dir = resolve_run_dir(cfg)
    summary = annotate(cfg, run_dir)
    write_results(run_dir, summary)
    log_results(cfg, build_loggers(cfg, "annotate"), summary, run_dir)
    return summary
