"""BM25 lexical baseline (``bm25s``, Lucene variant), in the run format of :mod:`.metrics`.

The index is built from the corpus a slice at a time (texts streamed from its store, term ids kept as int32),
so that a large corpus is never held as Python word lists.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping

import bm25s
import numpy as np

# Profile markup (<keyword>, </title>, <sep>, ...): structure, not words. "<5 years" is left alone.
MARKUP = re.compile(r"</?[A-Za-z_]+>")
CHUNK = 4096  # passages tokenised at a time while the index is built


def strip_markup(text: str) -> str:
    """``text`` with markup tags replaced by spaces, so that tag names never count as terms."""
    return MARKUP.sub(" ", text)


def _tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased word tokens (bm25s' scikit-learn-style splitter), English stopwords removed."""
    tokens = bm25s.tokenize([strip_markup(t) for t in texts], stopwords="en", return_ids=False, show_progress=False)
    return list(tokens)


class TermIds:
    """The term ids of every passage, built a slice of texts at a time: one int32 array and offsets (4 bytes per
    term; never every passage's word list at once). bm25s reads it as its ``(ids, vocab)`` corpus object:
    ``ids`` iterates one passage's term ids at a time, ``vocab`` maps a term to its id."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray, vocab: dict[str, int]) -> None:
        self.flat, self.offsets, self.vocab = flat, offsets, vocab

    @property
    def ids(self) -> TermIds:
        return self

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __iter__(self) -> Iterator[list[int]]:
        for start, end in itertools.pairwise(self.offsets.tolist()):
            yield self.flat[start:end].tolist()

    @classmethod
    def of(cls, texts: Iterable[str], chunk: int | None = None) -> TermIds:
        """Tokenise ``texts`` ``chunk`` (default :data:`CHUNK`) at a time, numbering terms in order of first
        appearance."""
        chunk = chunk or CHUNK
        vocab: dict[str, int] = {}
        parts: list[np.ndarray] = []
        lengths: list[int] = []
        iterator = iter(texts)
        while batch := list(itertools.islice(iterator, chunk)):
            tokens = _tokenize(batch)
            lengths += [len(t) for t in tokens]
            terms = itertools.chain.from_iterable(tokens)
            parts.append(np.fromiter((vocab.setdefault(t, len(vocab)) for t in terms), np.int32))  # [chunk's terms]
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.concatenate(parts) if parts else np.zeros(0, np.int32), offsets, vocab)


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
    retriever.index(TermIds.of(corpus.values()), show_progress=False)
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
