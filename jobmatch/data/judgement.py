"""What a pairwise judge returns, and the protocol every judge (offline or LLM) implements.

A judge compares two talents (passages) for one JD (query) and answers in the LLM-judge format of
the reference annotations: a short comparison ending with the lines ``Preferred: A|B`` and
``Confidence score: N`` (0-100). Judges must be symmetric: swapping the passages flips
``preferred`` and keeps the confidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Item = tuple[str, str, str]  # what a judge compares: (JD, talent A, talent B)


@dataclass(frozen=True)
class Judgement:
    """A verdict on one (query, passage A, passage B) triple.

    Attributes:
        preferred: the better passage, ``"A"`` (first) or ``"B"`` (second).
        confidence_score: how sure the judge is, an integer in 0..100.
        response: the judge's full answer, ending with ``Preferred: …`` and ``Confidence score: …``.
    """

    preferred: Literal["A", "B"]
    confidence_score: int
    response: str

    def __post_init__(self) -> None:
        if self.preferred not in ("A", "B"):
            raise ValueError(f"Judgement.preferred must be 'A' or 'B', got {self.preferred!r}")
        if (
            isinstance(self.confidence_score, bool)
            or not isinstance(self.confidence_score, int)
            or not 0 <= self.confidence_score <= 100
        ):
            raise ValueError(
                f"Judgement.confidence_score must be an int in 0..100, got {self.confidence_score!r}"
            )


@runtime_checkable
class Judge(Protocol):
    """A pairwise judge of talents for a JD; ``name`` goes into the ``model`` field of annotations."""

    name: str

    def judge(self, query: str, passage_a: str, passage_b: str) -> Judgement:
        """Compare ``passage_a`` (A) and ``passage_b`` (B) as candidates for ``query``."""
        ...
