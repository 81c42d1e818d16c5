"""Retrieval evaluation sets: queries, a talent corpus (on disk) and relevance judgements (qrels)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jobmatch.data.corpus import Corpus
from jobmatch.data.records import ContrastiveRecord
from jobmatch.errors import OptionError, UserError


class MissingPositiveError(UserError, ValueError):
    """A JD of an evaluation file whose rule-based positive is not a talent of the corpus."""


@dataclass
class RetrievalSet:
    """``queries`` {qid: JD text}, ``corpus`` the talents (a :class:`Corpus`: ids and texts by position, on
    disk), ``qrels`` {qid: {cid: relevance}}. A ``{cid: text}`` mapping given as ``corpus`` is written to a
    store in the process's scratch folder."""

    queries: dict[str, str]
    corpus: Corpus
    qrels: dict[str, dict[str, int]]

    def __post_init__(self) -> None:
        if not isinstance(self.corpus, Corpus):
            self.corpus = Corpus.from_mapping(self.corpus)
        relevant = sorted({cid for rel in self.qrels.values() for cid in rel})
        missing = [cid for cid, position in zip(relevant, self.corpus.positions(relevant), strict=True)
                   if position < 0]
        if missing:
            raise ValueError(f"{len(missing)} relevant ids are not in the corpus, e.g. {missing[:3]}")


def open_corpus(path: str | Path, cache_dir: str | Path | None = None) -> Corpus:
    """The corpus of a corpus JSONL (``{"id": ..., "text": ...}`` per line, every line validated), stored once
    in ``cache_dir`` (see :meth:`Corpus.open`)."""
    return Corpus.open(path, cache_dir)


def build_retrieval_set(
    records: Sequence[ContrastiveRecord], corpus: Corpus | Mapping[str, str] | None = None,
    extra_passages: Sequence[ContrastiveRecord] = (), *, extra_texts: Iterable[str] = (),
    cache_dir: str | Path | None = None, source: str | Path | None = None, corpus_file: str | Path | None = None,
) -> RetrievalSet:
    """Queries and qrels from contrastive records (positives are the relevant talents).

    With a ``corpus``, positives are matched by ``positive_ids`` when the records carry them, else
    by text. Without one, the corpus is every distinct passage of ``records``, ``extra_passages`` and then
    ``extra_texts`` (as with the reference's files, which have no separate corpus), interned into a store in
    ``cache_dir``. A record with only ids (an id row) needs a corpus that holds them. ``source`` and
    ``corpus_file`` name the records' file and the corpus file in the error.

    Raises:
        MissingPositiveError: a positive is not in the corpus (``SOURCE: JD qid: positive ... is not ...``).
    """
    if corpus is None:
        passages = (text for record in (*records, *extra_passages) for text in (*record.positives, *record.negatives))
        corpus = Corpus.from_texts(itertools.chain(passages, extra_texts), cache_dir)
    elif not isinstance(corpus, Corpus):
        corpus = Corpus.from_mapping(corpus, cache_dir)
    wanted_ids = sorted({pid for record in records for pid in record.positive_ids or ()})
    known = {cid for cid, position in zip(wanted_ids, corpus.positions(wanted_ids), strict=True) if position >= 0}
    by_id = [bool(r.positive_ids) and all(pid in known for pid in r.positive_ids) for r in records]  # type: ignore[union-attr]
    by_text = corpus.find_texts(t for r, ok in zip(records, by_id, strict=True) if not ok for t in r.positives)
    ids = corpus.ids
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for i, (record, ok) in enumerate(zip(records, by_id, strict=True)):
        qid = record.query_id or f"q{i}"
        queries[qid] = record.query
        found = list(record.positive_ids) if ok else [  # type: ignore[arg-type]
            ids[by_text[t]] if t in by_text else None for t in record.positives]
        if record.is_id_row and not ok:
            raise OptionError(f"query {qid}: its talents are named by id ({record.positive_ids[0]}, ...) but the "  # type: ignore[index]
                              "corpus does not hold them: set {corpus_file} to the corpus they refer to")
        if any(pid is None for pid in found):
            raise missing_positive(source, qid, record, found, corpus_file)
        if not found:
            raise ValueError(f"query {qid}: has no positive talent")
        qrels[qid] = {str(pid): 1 for pid in found}
    return RetrievalSet(queries=queries, corpus=corpus, qrels=qrels)


def missing_positive(source: str | Path | None, qid: str, record: ContrastiveRecord, found: Sequence[str | None],
                     corpus_file: str | Path | None) -> MissingPositiveError:
    """The one-line error for a JD whose positive (the first missing one is shown) is not in the corpus."""
    text = next(t for t, pid in zip(record.positives, found, strict=True) if pid is None)
    shown = text if len(text) <= 60 else text[:59] + "…"
    where = f"the corpus {corpus_file}" if corpus_file else "the corpus"
    head = f"{source}: " if source else ""
    return MissingPositiveError(
        f"{head}JD {qid}: a positive is not in {where} (\"{' '.join(shown.split())}\"); fix: add that talent to "
        "the corpus file, or give this split's JDs and the corpus from the same dataset"
    )
