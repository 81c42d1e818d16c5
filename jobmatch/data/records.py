"""Typed records for the two data formats of the method (docs/design.md §2).

A record is immutable and carries the reference JSONL fields plus optional ids. Unknown keys
from the file are kept in ``extra`` so that a read -> write round trip loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

Preferred = Literal["A", "B"]


@dataclass(frozen=True, slots=True)
class ContrastiveRecord:
    """One JD (query) with its rule-based positives and its negatives (talent texts).

    ``negative_rounds``, when present, has one entry per negative: the mining round that produced
    it (0 for the negatives of the original file).
    """

    query: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    query_id: str | None = None
    positive_ids: tuple[str, ...] | None = None
    negative_ids: tuple[str, ...] | None = None
    negative_rounds: tuple[int, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_id_row(self) -> bool:
        """Whether the talents are given by id only (``positive_ids``/``negative_ids`` into a corpus file)."""
        return not self.positives and bool(self.positive_ids)

    def by_id(self) -> ContrastiveRecord:
        """The same row with its talents by id only (texts dropped); itself when an id is missing."""
        if self.positive_ids is None or (self.negatives and self.negative_ids is None):
            return self
        return replace(self, positives=(), negatives=(), negative_ids=self.negative_ids or ())

    def to_json(self) -> dict[str, Any]:
        """The reference JSON object (plus the optional ids and any extra keys); an id row has no text lists."""
        out: dict[str, Any] = {"query": self.query}
        if not self.is_id_row:
            out.update(positives=list(self.positives), negatives=list(self.negatives))
        for key in ("query_id", "positive_ids", "negative_ids", "negative_rounds"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if isinstance(value, tuple) else value
        out.update(self.extra)
        return out

    @property
    def jd_key(self) -> str:
        """What groups rows of one JD: the query text without surrounding spaces."""
        return self.query.strip()


@dataclass(frozen=True, slots=True)
class ContrastiveRow:
    """A contrastive record by reference: its texts are rows of two text stores (JDs, talents).

    ``query``: the JD's row in the query store; ``positives``/``negatives``: talent rows in the passage
    store; ``jd_key``: a digest of the query text without surrounding spaces (groups rows of one JD);
    ``query_id``/``positive_ids``: the file's ids, when given (retrieval matches positives by them).
    """

    query: int
    positives: tuple[int, ...]
    negatives: tuple[int, ...]
    jd_key: bytes
    query_id: str | None = None
    positive_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class PreferenceRecord:
    """A JD and two talents judged pairwise: ``preferred`` names the better of passage1 (A) and 2 (B)."""

    query: str
    passage1: str
    passage2: str
    preferred: Preferred
    confidence_score: float | None = None
    query_id: str | None = None
    passage_id1: str | None = None
    passage_id2: str | None = None
    passage_rank1: int | None = None
    passage_rank2: int | None = None
    model: str | None = None
    response: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_id_row(self) -> bool:
        """Whether the talents are given by id only (``passage_id1``/``passage_id2`` into a corpus file)."""
        return not self.passage1 and not self.passage2 and bool(self.passage_id1 and self.passage_id2)

    def by_id(self) -> PreferenceRecord:
        """The same pair with its talents by id only (texts dropped); itself when an id is missing."""
        return replace(self, passage1="", passage2="") if self.passage_id1 and self.passage_id2 else self

    @property
    def chosen(self) -> str:
        """The judge-preferred talent text."""
        return self.passage1 if self.preferred == "A" else self.passage2

    @property
    def rejected(self) -> str:
        """The other talent text."""
        return self.passage2 if self.preferred == "A" else self.passage1

    def to_json(self) -> dict[str, Any]:
        """The reference JSON object; ``None`` fields are left out, and an id row's (empty) talent texts."""
        out: dict[str, Any] = {"query": self.query}
        if not self.is_id_row:
            out.update(passage1=self.passage1, passage2=self.passage2)
        out["preferred"] = self.preferred
        for key in (
            "confidence_score",
            "query_id",
            "passage_id1",
            "passage_id2",
            "passage_rank1",
            "passage_rank2",
            "model",
            "response",
        ):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out.update(self.extra)
        return out
