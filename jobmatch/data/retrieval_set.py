"""Retrieval evaluation sets: queries, a talent corpus and relevance judgements (qrels)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jobmatch.data.readers import read_corpus_lines
from jobmatch.data.records import ContrastiveRecord


@dataclass
class RetrievalSet:
    """``queries`` {qid: JD text}, ``corpus`` {cid: talent text}, ``qrels`` {qid: {cid: relevance}}."""

    queries: dict[str, str]
    corpus: dict[str, str]
    qrels: dict[str, dict[str, int]]

    def __post_init__(self) -> None:
        missing = {cid for rel in self.qrels.values() for cid in rel if cid not in self.corpus}
        if missing:
            raise ValueError(f"{len(missing)} relevant ids are not in the corpus, e.g. {sorted(missing)[:3]}")


def read_corpus(path: str | Path) -> dict[str, str]:
    """Read a corpus JSONL (``{"id": ..., "text": ...}`` per line) as {id: text}, validating every line."""
    return {cid: text for _, cid, text in read_corpus_lines(path)}


def build_retrieval_set(
    records: Sequence[ContrastiveRecord], corpus: Mapping[str, str] | None = None,
    extra_passages: Sequence[ContrastiveRecord] = (),
) -> RetrievalSet:
    """Queries and qrels from contrastive records (positives are the relevant talents).

    With a ``corpus``, positives are matched by ``positive_ids`` when the records carry them, else
    by text. Without one, the corpus is every distinct passage of ``records`` and ``extra_passages``
    (as with the reference's files, which have no separate corpus).
    """
    if corpus is None:
        texts: dict[str, str] = {}
        for record in (*records, *extra_passages):
            for text in (*record.positives, *record.negatives):
                texts.setdefault(text, f"p{len(texts)}")
        corpus = {cid: text for text, cid in texts.items()}
    by_text = {text: cid for cid, text in corpus.items()}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for i, record in enumerate(records):
        qid = record.query_id or f"q{i}"
        queries[qid] = record.query
        ids = record.positive_ids if record.positive_ids and corpus is not None and all(
            pid in corpus for pid in record.positive_ids) else [by_text.get(t) for t in record.positives]
        if any(pid is None for pid in ids):
            raise ValueError(f"query {qid}: a positive is not in the corpus")
        qrels[qid] = {str(pid): 1 for pid in ids}
    return RetrievalSet(queries=queries, corpus=dict(corpus), qrels=qrels)
