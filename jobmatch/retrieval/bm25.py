"""BM25 lexical baseline (``bm25s``, Lucene variant), in the run format of :mod:`.metrics`."""

from __future__ import annotations

import re
from collections.abc import Mapping

import bm25s
import numpy as np

# Profile markup (<keyword>, </title>, <sep>, ...): structure, not words. "<5 years" is left alone.
MARKUP = re.compile(r"</?[A-Za-z_]+>")


def strip_markup(text: str) -> str:
    """``text`` with markup tags replaced by spaces, so that tag names never count as terms."""
    return MARKUP.sub(" ", text)


def _tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased word tokens (bm25s' scikit-learn-style splitter), English stopwords removed."""
    tokens = bm25s.tokenize([strip_markup(t) for t in texts], stopwords="en", return_ids=False, show_progress=False)
    return list(tokens)


def bm25_run(
    queries: Mapping[str, str],
    corpus: Mapping[str, str],
    k: int = 100,
    *,
    k1: float = 1.5,
    b: float = 0.75,
) -> dict[str, dict[str, float]]:
    """The top-k BM25 passages of each query: ``{query_id: {passage_id: score}}``.

    Passages sharing no term with the query (score 0) are left out, so a row may hold fewer than
    k passages (none for a query without a corpus term); k is capped at the corpus size.

    Args:
        queries: ``{query_id: text}`` (JDs).
        corpus: ``{passage_id: text}`` (talent profiles, markup allowed).
        k: passages per query.
        k1: term-frequency saturation.
        b: document-length normalisation.
    """
    if not corpus:
        raise ValueError("corpus is empty")
    passage_ids = list(corpus)
    retriever = bm25s.BM25(k1=k1, b=b)
    retriever.index(_tokenize(list(corpus.values())), show_progress=False)
    vocab = retriever.vocab_dict
    query_ids = list(queries)
    # ids of the query terms the corpus knows; bm25s' own empty-token fallback is off the index
    token_ids = [[vocab[t] for t in tokens if t in vocab] for tokens in _tokenize(list(queries.values()))]
    run: dict[str, dict[str, float]] = {qid: {} for qid in query_ids}
    matched = [i for i, ids in enumerate(token_ids) if ids]
    if not matched:
        return run
    indices, scores = retriever.retrieve(
        [token_ids[i] for i in matched], k=min(k, len(passage_ids)), show_progress=False
    )  # [M, k] each
    for i, row_indices, row_scores in zip(matched, np.asarray(indices), np.asarray(scores), strict=True):
        run[query_ids[i]] = {passage_ids[j]: float(s) for j, s in zip(row_indices, row_scores, strict=True) if s > 0}
    return run
