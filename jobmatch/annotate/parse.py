"""Read the verdict out of an LLM judge's free-text answer, strictly: never guess.

The prompt asks for two final lines, ``Preferred: A|B`` and ``Confidence score: N``; models vary
the form (``**Preferred:** B``, ``preferred candidate: Candidate A``, ``Confidence: 85/100``, ``85%``).
For each of the two labels, the *last* line carrying it wins (answers sometimes restate the format
first). That line must then hold exactly one unambiguous value; otherwise — ``A or B``, ``neither``,
``high``, ``0.8`` (a 0-1 scale?), ``120`` — :class:`JudgementParseError` is raised with the raw text.
"""

from __future__ import annotations

import re
from typing import Literal, cast

from jobmatch.data.judgement import Judgement

_MARKUP = re.compile(r"\*\*|__|[*`]")  # markdown bold/italics/code around labels or values
_SEP = r"\s*[:：=–—-]\s*"
_PREFERRED_LABEL = re.compile(
    r"\bpreferred(?:\s+(?:candidate|choice|profile|option|passage|answer))?" + _SEP, re.IGNORECASE
)
_PREFERRED_VALUE = re.compile(
    r"(?:(?:candidate|profile|option|passage)\s*)?[(\[<\"']?\s*([AB])\s*[)\]>\"']?"
    r"(?=\s*$|\s*[.,;:!]|\s+[-–—(])",
    re.IGNORECASE,
)
_AMBIGUOUS_TAIL = re.compile(r"^\s*(?:/|,|&|\bor\b|\band\b|\bvs\.?)\s*(?:candidate\s*)?[AB]\b", re.IGNORECASE)
_CONFIDENCE_LABEL = re.compile(
    r"\bconfidence(?:\s+(?:score|level|rating))?(?:\s*\((?:0\s*[-–]\s*100|%)\))?" + _SEP, re.IGNORECASE
)
_CONFIDENCE_VALUE = re.compile(
    r"(\d{1,3}(?:\.\d+)?)\s*(?:(%)|(?:/|\bout\s+of\b)\s*(\d{1,3}))?(?![\d.]*\d)", re.IGNORECASE
)
_RANGE_TAIL = re.compile(r"^\s*(?:[-–—]|\bto\b|\bor\b)\s*\d", re.IGNORECASE)  # "70-80", "70 or 80"


class JudgementParseError(ValueError):
    """A judge's answer holds no unambiguous verdict or confidence. ``text`` is the raw answer."""

    def __init__(self, reason: str, text: str) -> None:
        tail = text[-200:].strip().replace("\n", " | ")
        super().__init__(f"{reason}; answer ends with: {tail!r}")
        self.reason = reason
        self.text = text


def parse_judgement(text: str) -> Judgement:
    """The :class:`Judgement` stated in ``text`` (kept whole as ``response``); see the module docstring."""
    preferred = _parse_preferred(text)
    confidence = _parse_confidence(text)
    return Judgement(preferred=preferred, confidence_score=confidence, response=text)


def _last_labelled(text: str, label: re.Pattern[str], what: str) -> str:
    """What follows the last occurrence of ``label`` on its line (markup removed)."""
    found = None
    for line in _MARKUP.sub("", text).splitlines():
        for match in label.finditer(line):
            found = line[match.end() :]
    if found is None:
        raise JudgementParseError(f"no '{what}:' line", text)
    return found.strip()


def _parse_preferred(text: str) -> Literal["A", "B"]:
    value = _last_labelled(text, _PREFERRED_LABEL, "Preferred")
    match = _PREFERRED_VALUE.match(value)
    if match is None or _AMBIGUOUS_TAIL.match(value[match.end() :]):
        raise JudgementParseError(f"'Preferred:' is not followed by a single A or B (got {value[:40]!r})", text)
    return cast(Literal["A", "B"], match.group(1).upper())


def _parse_confidence(text: str) -> int:
    value = _last_labelled(text, _CONFIDENCE_LABEL, "Confidence score")
    match = _CONFIDENCE_VALUE.match(value)
    if match is None or _RANGE_TAIL.match(value[match.end() :]):
        raise JudgementParseError(f"'Confidence score:' is not followed by a single number (got {value[:40]!r})", text)
    number, percent, denominator = float(match.group(1)), match.group(2), match.group(3)
    if denominator is not None:
        if int(denominator) == 0:
            raise JudgementParseError(f"confidence out of 0 ({value[:40]!r})", text)
        number = 100 * number / int(denominator)
    elif not percent and "." in match.group(1) and number <= 1:
        raise JudgementParseError(f"confidence {match.group(1)} is ambiguous (0-1 or 0-100 scale?)", text)
    if not 0 <= number <= 100:
        raise JudgementParseError(f"confidence {match.group(0).strip()!r} is outside 0..100", text)
    return int(number + 0.5)  # round half up
