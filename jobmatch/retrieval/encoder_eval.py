"""Retrieval evaluation of an encoder: encode queries and corpus, search, score against qrels."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.errors import OptionError
from jobmatch.model import TextEncoder
from jobmatch.retrieval.encode import EmbeddingCache, encode_corpus, encode_texts, model_fingerprint
from jobmatch.retrieval.metrics import retrieval_metrics

CUTOFFS: tuple[int, ...] = (1, 5, 10, 20, 100)


@dataclass
class EncodeSettings:
    """How texts are encoded for evaluation."""

    max_query_length: int = 256
    max_passage_length: int = 256
    batch_size: int = 64
    bf16: bool = False
    progress: bool = True


@dataclass
class RetrievalResult:
    """Metrics (``ndcg@20`` ...), the run {qid: {cid: score}}, timings and the embeddings."""

    metrics: dict[str, float]
    run: dict[str, dict[str, float]]
    timings: dict[str, float] = field(default_factory=dict)
    query_emb: np.ndarray | None = None
    corpus_emb: np.ndarray | None = None


def embed_set(
    encoder: TextEncoder,
    rset: RetrievalSet,
    settings: EncodeSettings,
    cache: EmbeddingCache | None = None,
    *,
    corpus_emb: np.ndarray | None = None,
    model_fp: str | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """(query embeddings [Q, D], corpus embeddings [N, D], timings) in the order of the set's dicts.

    Pass ``corpus_emb`` (and ``model_fp``) from an earlier call when several query sets share one
    corpus and one model, so that the corpus is encoded (and the weights hashed) once.
    """
    fp = model_fp or (model_fingerprint(encoder) if cache else None)
    timings: dict[str, float] = {}
    kwargs = {"batch_size": settings.batch_size, "bf16": settings.bf16, "progress": settings.progress}
    if corpus_emb is None:  # read from the corpus's token store, never as a list of texts
        start = time.perf_counter()
        corpus_emb = encode_corpus(encoder, rset.corpus, max_length=settings.max_passage_length, cache=cache,
                                   model_fp=fp, desc="encode corpus", **kwargs)
        timings["time/encode_corpus_s"] = time.perf_counter() - start
        timings["encoded/corpus"] = 0.0 if cache and cache.last_hit else float(len(rset.corpus))
    start = time.perf_counter()
    texts = list(rset.queries.values())
    query_kwargs = {"max_length": settings.max_query_length, "desc": "encode queries", **kwargs}
    query_emb = (cache.encode(encoder, texts, model_fp=fp, **query_kwargs) if cache
                 else encode_texts(encoder, texts, **query_kwargs))
    timings["time/encode_queries_s"] = time.perf_counter() - start
    timings["encoded/queries"] = 0.0 if cache and cache.last_hit else float(len(texts))
    return query_emb, corpus_emb, timings


def search_and_score(
    rset: RetrievalSet,
    query_emb: np.ndarray,
    corpus_emb: np.ndarray,
    *,
    k: int = 100,
    cutoffs: Sequence[int] = CUTOFFS,
    index_kind: str = "auto",
) -> RetrievalResult:
    """FAISS search of the top k per query and the metrics of :func:`retrieval_metrics`.

    Raises:
        OptionError: a cutoff above ``k`` (its metrics would silently be those at ``k``).
    """
    if max(cutoffs, default=0) > k:
        raise OptionError(f"{{cutoffs}}={list(cutoffs)}: cutoff {max(cutoffs)} is above {{k}}={k}; "
                          f"pass {{k}}={max(cutoffs)} or drop the cutoffs above {k}")
    start = time.perf_counter()
    from jobmatch.retrieval.search import (  # FAISS: only here
        EXACT_EVALUATION_MAX,
        build_index,
        choose_index_kind,
        search,
        to_run,
    )

    kind = choose_index_kind(len(corpus_emb), EXACT_EVALUATION_MAX) if index_kind == "auto" else index_kind
    index = build_index(corpus_emb, kind)
    scores, indices = search(index, query_emb, min(k, len(corpus_emb)))
    run = to_run(list(rset.queries), rset.corpus.ids, scores, indices)
    searched = time.perf_counter()
    metrics = retrieval_metrics(run, rset.qrels, cutoffs)
    timings = {"time/search_s": searched - start, "time/metrics_s": time.perf_counter() - searched}
    return RetrievalResult(metrics=metrics, run=run, timings=timings)


class ModelEncodings:
    """One encoder's embeddings of the corpora it evaluates on: each distinct corpus (by content fingerprint) is
    encoded once and reused by every split that ranks it (test, out-of-distribution, ...).

    The encoder's weights must not change while this object is in use (one instance per model). The model
    fingerprint, needed only by the on-disk cache, is computed once.
    """

    def __init__(self, encoder: TextEncoder, settings: EncodeSettings | None = None,
                 cache: EmbeddingCache | None = None) -> None:
        self.encoder, self.settings, self.cache = encoder, settings or EncodeSettings(), cache
        self.model_fp = model_fingerprint(encoder) if cache else None
        self._corpora: dict[str, np.ndarray] = {}  # {corpus fingerprint: [N, D] embeddings}

    def embed(self, rset: RetrievalSet) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """(query embeddings [Q, D], corpus embeddings [N, D], timings) of ``rset`` (see :func:`embed_set`); the
        corpus is encoded only the first time this model meets it."""
        key = rset.corpus.fingerprint
        query_emb, corpus_emb, timings = embed_set(self.encoder, rset, self.settings, self.cache,
                                                   corpus_emb=self._corpora.get(key), model_fp=self.model_fp)
        self._corpora[key] = corpus_emb
        return query_emb, corpus_emb, timings

    def evaluate(
        self, rset: RetrievalSet, *, k: int = 100, cutoffs: Sequence[int] = CUTOFFS, index_kind: str = "auto"
    ) -> RetrievalResult:
        """Encode (what is not encoded yet), search and score ``rset``: the retention half of every evaluation."""
        query_emb, corpus_emb, timings = self.embed(rset)
        result = search_and_score(rset, query_emb, corpus_emb, k=k, cutoffs=cutoffs, index_kind=index_kind)
        result.timings = {**timings, **result.timings}
        # Throughput counts only texts that went through the model: cache hits would inflate it.
        encoded = [name for name in ("corpus", "queries") if timings.get(f"encoded/{name}", 0.0) > 0]
        if encoded:
            n_texts = sum(timings[f"encoded/{name}"] for name in encoded)
            encode_s = sum(timings[f"time/encode_{name}_s"] for name in encoded)
            result.timings["throughput/texts_per_s"] = n_texts / max(encode_s, 1e-9)
        result.query_emb, result.corpus_emb = query_emb, corpus_emb
        return result


def evaluate_encoder(
    encoder: TextEncoder,
    rset: RetrievalSet,
    settings: EncodeSettings | None = None,
    *,
    cache: EmbeddingCache | None = None,
    k: int = 100,
    cutoffs: Sequence[int] = CUTOFFS,
    index_kind: str = "auto",
) -> RetrievalResult:
    """Encode, search and score one set (several sets of one model: :class:`ModelEncodings`)."""
    return ModelEncodings(encoder, settings, cache).evaluate(rset, k=k, cutoffs=cutoffs, index_kind=index_kind)
