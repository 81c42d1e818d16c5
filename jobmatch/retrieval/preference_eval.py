"""The two numbers of every stage-2 run (DESIGN.md §1, Evaluation), for the run and its stage-1 start.

- retention: retrieval on the rule-based test split (``test/ndcg@20`` ...), as ``jobmatch.evaluate``;
- alignment: pairwise accuracy on the held-out judged test pairs, with a bootstrap 95% interval
  and a breakdown by judge confidence (``test/alignment`` ...);
- the same for the stage-1 checkpoint (``stage1/...``) and the differences (``delta/...``).

Embeddings go through the on-disk :class:`EmbeddingCache`, so the stage-1 model is encoded once
across all the runs of a sweep that start from it.
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from jobmatch.data.records import PreferenceRecord
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.model import TextEncoder
from jobmatch.retrieval.alignment import alignment
from jobmatch.retrieval.encode import EmbeddingCache, encode_texts, model_fingerprint
from jobmatch.retrieval.evaluate import CUTOFFS, EncodeSettings, evaluate_encoder

log = logging.getLogger(__name__)


def pair_texts(records: Sequence[PreferenceRecord]) -> tuple[list[str], list[str], np.ndarray]:
    """Unique JD texts, unique talent texts, and per pair the rows (query, chosen, rejected) [P, 3]."""
    queries: dict[str, int] = {}
    passages: dict[str, int] = {}
    rows = [
        (queries.setdefault(r.query, len(queries)), passages.setdefault(r.chosen, len(passages)),
         passages.setdefault(r.rejected, len(passages)))
        for r in records
    ]
    return list(queries), list(passages), np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def pair_similarities(
    encoder: TextEncoder, records: Sequence[PreferenceRecord], settings: EncodeSettings,
    encode: Callable[..., np.ndarray] = encode_texts,
) -> np.ndarray:
    """[P, 2] similarities (s(q, w), s(q, l)) of ``encoder`` as it is, each unique text encoded once.

    ``encode`` is :func:`encode_texts` or a cached equivalent (``EmbeddingCache.encode``).
    """
    queries, passages, rows = pair_texts(records)
    kwargs = {"batch_size": settings.batch_size, "bf16": settings.bf16, "progress": settings.progress}
    query_emb = encode(encoder, queries, max_length=settings.max_query_length, desc="encode JDs", **kwargs)  # [Q, D]
    passage_emb = encode(encoder, passages, max_length=settings.max_passage_length, desc="encode talents",
                         **kwargs)  # [N, D]
    q = query_emb[rows[:, 0]]  # [P, D]
    return np.stack([(q * passage_emb[rows[:, 1]]).sum(-1), (q * passage_emb[rows[:, 2]]).sum(-1)], axis=1)


def pair_alignment(
    encoder: TextEncoder, records: Sequence[PreferenceRecord], settings: EncodeSettings,
    cache: EmbeddingCache | None = None, *, n_bootstrap: int = 1000, seed: int = 0,
) -> dict[str, float]:
    """:func:`jobmatch.retrieval.alignment.alignment` of ``encoder`` on judged pairs (confidence bins when known),
    plus ``score_margin``: the mean s(q, w) − s(q, l), a continuous companion of the win rate."""
    encode = functools.partial(cache.encode, model_fp=model_fingerprint(encoder)) if cache else encode_texts
    scores = pair_similarities(encoder, records, settings, encode)  # [P, 2]
    confidence = np.array([np.nan if r.confidence_score is None else r.confidence_score for r in records])
    out = alignment(scores[:, 0], scores[:, 1], confidence=None if np.isnan(confidence).all() else confidence,
                    n_bootstrap=n_bootstrap, seed=seed)
    out["score_margin"] = float((scores[:, 0] - scores[:, 1]).mean())
    return out


def retention_and_alignment(
    encoder: TextEncoder,
    rset: RetrievalSet | None,
    pairs: Sequence[PreferenceRecord],
    settings: EncodeSettings,
    cache: EmbeddingCache | None = None,
    *,
    k: int = 100,
    cutoffs: Sequence[int] = CUTOFFS,
    index_kind: str = "auto",
    n_bootstrap: int = 1000,
) -> dict[str, float]:
    """Retrieval metrics on ``rset`` (when given) and alignment on ``pairs`` (when any), unprefixed."""
    out: dict[str, float] = {}
    if rset is not None:
        out.update(evaluate_encoder(encoder, rset, settings, cache=cache, k=k, cutoffs=cutoffs,
                                    index_kind=index_kind).metrics)
    if pairs:
        out.update(pair_alignment(encoder, pairs, settings, cache, n_bootstrap=n_bootstrap))
    return out


def with_deltas(run: dict[str, float], stage1: dict[str, float]) -> dict[str, float]:
    """``test/`` (the run), ``stage1/`` and ``delta/`` (run − stage 1) keys of two metric dicts."""
    out = {f"test/{k}": v for k, v in run.items()}
    out.update({f"stage1/{k}": v for k, v in stage1.items()})
    for key, value in run.items():
        if key in stage1 and not key.startswith("n_pairs") and "_ci_" not in key:
            out[f"delta/{key}"] = value - stage1[key]
    return out


def _device(cfg: DictConfig) -> torch.device:
    wants_gpu = str(cfg.trainer.get("accelerator", "cpu")) != "cpu"
    return torch.device("cuda" if wants_gpu and torch.cuda.is_available() else "cpu")


def evaluate_preference_run(
    cfg: DictConfig, encoder: TextEncoder, stage1: Callable[[], TextEncoder], rset: RetrievalSet | None,
    pairs: Sequence[PreferenceRecord],
) -> dict[str, Any]:
    """Retention and alignment of ``encoder`` and of the stage-1 encoder (built by ``stage1()``), with deltas.

    Settings come from ``cfg.eval`` (batch size, bf16, cache, k, cutoffs, index) and ``cfg.data``
    (lengths); the cache lives in ``paths.cache_dir/embeddings``.
    """
    if rset is None:
        log.warning("no rule-based test split (data.test_file): retention is not reported")
    if not pairs:
        log.warning("no held-out judged pairs: alignment is not reported")
    settings = EncodeSettings(max_query_length=int(cfg.data.max_query_length),
                              max_passage_length=int(cfg.data.max_passage_length),
                              batch_size=int(cfg.eval.batch_size), bf16=bool(cfg.eval.bf16), progress=True)
    cache = EmbeddingCache(f"{cfg.paths.cache_dir}/embeddings") if cfg.eval.cache else None
    kwargs = {"k": int(cfg.eval.k), "cutoffs": tuple(cfg.eval.cutoffs), "index_kind": str(cfg.eval.index)}
    device = _device(cfg)
    run = retention_and_alignment(encoder.to(device), rset, pairs, settings, cache, **kwargs)
    reference = stage1().to(device)
    start = retention_and_alignment(reference, rset, pairs, settings, cache, **kwargs)
    del reference
    gc.collect()
    return with_deltas(run, start)
