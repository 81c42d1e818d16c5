"""Contrastive rows by reference: every text stored once on disk, rows hold store rows, not texts.

Training reads a contrastive file line by line (text rows or id rows, see :mod:`jobmatch.data.readers`)
and keeps, per row, the JD's row in a query store and its talents' rows in one *passage space*:

- ``[0, C)``: the positions of a corpus file's talents (id rows name them by id);
- ``[C, C + M)``: talents given as text (text rows), each distinct text interned once into a store.

What stays in memory is a few integers per row; texts are read back by row, token ids come from token
stores built once per (texts, tokenizer, limit) and cached on disk (:class:`~jobmatch.data.token_store.TokenStore`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jobmatch.data.corpus import Corpus
from jobmatch.data.interning import TextInterner
from jobmatch.data.readers import DataFormatError, OnError, contrastive_from_json, iter_jsonl
from jobmatch.data.records import ContrastiveRow
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.data.text_store import TextStore
from jobmatch.data.token_store import TokenSource


class PassageSpace:
    """Talent rows: a corpus's positions first, then the interned texts (offset by the corpus's size)."""

    def __init__(self, corpus: Corpus | None, cache_dir: str | Path) -> None:
        self.corpus = corpus
        self.offset = len(corpus) if corpus is not None else 0
        self.cache_dir = Path(cache_dir)
        self.interner = TextInterner(cache_dir)
        self.store: TextStore | None = None

    def add(self, text: str, line: int = 0) -> int:
        """The row of a talent given as text."""
        return self.offset + self.interner.add(text, line)

    def finish(self) -> TextStore:
        """Close the interned store (idempotent)."""
        self.store = self.interner.finish()
        return self.store

    def __len__(self) -> int:
        return self.offset + len(self.interner)

    def texts(self, rows: Sequence[int] | np.ndarray) -> list[str]:
        """The texts of ``rows`` (corpus positions or interned rows)."""
        rows = np.asarray(rows, dtype=np.int64)
        out: list[str] = [""] * len(rows)
        in_corpus = rows < self.offset
        if in_corpus.any():
            assert self.corpus is not None
            for i, text in zip(np.flatnonzero(in_corpus).tolist(), self.corpus.texts(rows[in_corpus]), strict=True):
                out[i] = text
        if (~in_corpus).any():
            store = self.finish()
            for i, text in zip(np.flatnonzero(~in_corpus).tolist(), store.texts(rows[~in_corpus] - self.offset),
                               strict=True):
                out[i] = text
        return out


class JoinedTokens:
    """A :class:`~jobmatch.data.token_store.TokenSource` of a passage space: rows below ``offset`` from the
    corpus's tokens (None: no row refers to the corpus), the rest from the interned texts' tokens."""

    def __init__(self, corpus: TokenSource | None, interned: TokenSource, offset: int) -> None:
        self.corpus, self.interned, self.offset = corpus, interned, offset

    def __len__(self) -> int:
        return self.offset + len(self.interned)

    def lengths(self) -> np.ndarray:
        own = np.asarray(self.interned.lengths())
        if self.corpus is None:
            return np.concatenate([np.zeros(self.offset, dtype=np.int64), own])
        return np.concatenate([np.asarray(self.corpus.lengths()), own])

    def rows(self, rows: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        rows = np.asarray(rows, dtype=np.int64)
        if (rows >= self.offset).all():
            return self.interned.rows(rows - self.offset)
        if self.corpus is None:
            raise IndexError("a row refers to the corpus, whose tokens were not built")
        return [self.corpus.rows([r])[0] if r < self.offset else self.interned.rows([r - self.offset])[0]
                for r in rows.tolist()]


def jd_digest(query: str) -> bytes:
    """The grouping key of a JD: a 16-byte digest of its text without surrounding spaces."""
    return hashlib.blake2b(query.strip().encode(), digest_size=16).digest()


def read_rows(
    path: str | Path,
    queries: TextInterner,
    passages: PassageSpace,
    *,
    min_negatives: int = 0,
    on_error: OnError = "raise",
) -> list[ContrastiveRow]:
    """Stream a contrastive JSONL file into rows: JD texts into ``queries``, talents into ``passages``.

    Text rows intern their talents' texts; id rows refer to the passage space's corpus (every id is resolved
    in one join at the end; an unknown id is a ``FILE:LINE`` error). One line's texts are in memory at a time.
    """
    built: list[_Pending] = []

    def build(obj: dict, line: int) -> None:
        record = contrastive_from_json(obj, min_negatives=min_negatives)
        built.append(_Pending(
            line=line, query=queries.add(record.query, line), key=jd_digest(record.query),
            positives=tuple(passages.add(t, line) for t in record.positives),
            negatives=tuple(passages.add(t, line) for t in record.negatives),
            query_id=record.query_id, positive_ids=record.positive_ids,
            negative_ids=record.negative_ids if not record.positives else None,
        ))

    for _ in iter_jsonl(path, build, on_error):
        pass
    _resolve_ids(path, [p for p in built if not p.positives], passages.corpus)
    return [ContrastiveRow(query=p.query, positives=p.positives, negatives=p.negatives, jd_key=p.key,
                           query_id=p.query_id, positive_ids=p.positive_ids) for p in built]


@dataclass(slots=True)
class _Pending:
    """A row being read: an id row's talents are resolved to corpus positions after the whole file."""

    line: int
    query: int
    key: bytes
    positives: tuple[int, ...]
    negatives: tuple[int, ...]
    query_id: str | None
    positive_ids: tuple[str, ...] | None
    negative_ids: tuple[str, ...] | None


def _resolve_ids(path: str | Path, pending: list[_Pending], corpus: Corpus | None) -> None:
    """Set the talent rows of id rows to their corpus positions (one join for the whole file)."""
    if not pending:
        return
    if corpus is None:
        raise DataFormatError(path, pending[0].line, "this row names talents by id (positive_ids) but there is "
                                                     "no corpus file: pass the corpus file (corpus_file=PATH)")
    ids = [cid for p in pending for cid in (*(p.positive_ids or ()), *(p.negative_ids or ()))]
    found = corpus.positions(ids)
    start = 0
    for p in pending:
        n_pos, n_neg = len(p.positive_ids or ()), len(p.negative_ids or ())
        got = found[start : start + n_pos + n_neg]
        if (got < 0).any():
            missing = ids[start + int(np.flatnonzero(got < 0)[0])]
            raise DataFormatError(path, p.line, f"talent id '{missing}' is not in the corpus file")
        p.positives, p.negatives = tuple(got[:n_pos].tolist()), tuple(got[n_pos:].tolist())
        start += n_pos + n_neg


def first_appearance(rows: Sequence[ContrastiveRow]) -> np.ndarray:
    """[M] the distinct talent rows of ``rows`` (positives, then negatives, row by row) in order of first appearance."""
    flat = np.fromiter((t for r in rows for t in (*r.positives, *r.negatives)), dtype=np.int64)
    _, first = np.unique(flat, return_index=True)
    return flat[np.sort(first)]


def retrieval_set_from_rows(
    rows: Sequence[ContrastiveRow], queries: TextStore, passages: PassageSpace,
    extra: Sequence[ContrastiveRow] = (),
) -> RetrievalSet:
    """Queries and qrels of ``rows`` against the passage space's corpus, or, without one, against every distinct
    talent of ``rows`` and then ``extra`` (ids ``p0, p1, ...`` in order of first appearance), as
    :func:`~jobmatch.data.retrieval_set.build_retrieval_set` builds them from records with texts.

    Positives are matched by ``positive_ids`` when a row carries them all in the corpus, else by row (a talent
    given as text is looked up by its text in a corpus file).
    """
    store = passages.finish()
    if passages.corpus is not None:
        corpus = passages.corpus
        view_of: dict[int, int] | None = None
    else:
        order = first_appearance([*rows, *extra])
        corpus = Corpus(store, rows=order, ids=[f"p{i}" for i in range(len(order))], cache_dir=passages.cache_dir)
        view_of = {int(r): i for i, r in enumerate(order.tolist())}
    wanted = sorted({pid for r in rows for pid in r.positive_ids or ()})
    known = {cid for cid, pos in zip(wanted, corpus.positions(wanted), strict=True) if pos >= 0}
    by_id = [bool(r.positive_ids) and all(pid in known for pid in r.positive_ids) for r in rows]  # type: ignore[union-attr]
    as_text = sorted({t for r, ok in zip(rows, by_id, strict=True) if not ok for t in r.positives
                      if t >= passages.offset and view_of is None})
    texts = passages.texts(as_text)
    found = corpus.find_texts(texts) if as_text else {}
    position_of = {row: found.get(text, -1) for row, text in zip(as_text, texts, strict=True)}
    ids = corpus.ids
    query_texts = queries.texts([r.query for r in rows])
    out_queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for i, (row, ok, text) in enumerate(zip(rows, by_id, query_texts, strict=True)):
        qid = row.query_id or f"q{i}"
        out_queries[qid] = text
        if ok:
            qrels[qid] = {str(pid): 1 for pid in row.positive_ids}  # type: ignore[union-attr]
            continue
        positions = [view_of[t] if view_of is not None else t if t < passages.offset else position_of[t]
                     for t in row.positives]
        if any(p < 0 for p in positions):
            raise ValueError(f"query {qid}: a positive is not in the corpus")
        qrels[qid] = {ids[p]: 1 for p in positions}
    return RetrievalSet(queries=out_queries, corpus=corpus, qrels=qrels)


def iter_texts(passages: PassageSpace, rows: np.ndarray, batch: int = 4096) -> Iterator[str]:
    """The texts of ``rows``, read a slice at a time."""
    for start in range(0, len(rows), batch):
        yield from passages.texts(rows[start : start + batch])
