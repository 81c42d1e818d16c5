"""Replace personal identifiers in a text by neutral placeholders (before a remote judge sees it).

Kinds, in the order they are applied (an earlier kind's match is never re-read by a later one):

- ``email``: ``local@domain.tld``;
- ``url``: ``http(s)://…``, ``www.…`` and bare ``domain.tld/path`` links;
- ``orcid``: ORCID-like identifiers, four groups of four digits (the last may be ``X``);
- ``phone``: international numbers (``+`` and a country code), North-American ``(555) 867-5309``
  and national numbers with a leading ``0`` in groups (so years such as ``2010-2020`` and counts stay);
- ``name``: each given name (whole words, case-insensitive), the full name first, then each of its
  parts of three or more letters, hyphenated parts whole before their pieces (so ``Dr. Garcia``
  is caught as well as ``Maria Garcia``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

PLACEHOLDERS: dict[str, str] = {
    "email": "[EMAIL]",
    "url": "[URL]",
    "orcid": "[ORCID]",
    "phone": "[PHONE]",
    "name": "[NAME]",
}
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    (
        "url",
        re.compile(
            r"(?:https?://|www\.)[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"]"
            r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|io|ac\.[a-z]{2}|[a-z]{2})/[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'\"]",
            re.IGNORECASE,
        ),
    ),
    ("orcid", re.compile(r"\b\d{4}-\d{4}-\d{4}-\d{3}[\dX]\b")),
    (
        "phone",
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]\d{2,4}){1,4}"  # +44 (0)20 7946 0958
            r"|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}"  # (555) 867-5309
            r"|0\d{2,4}[\s.-]\d{3,4}[\s.-]?\d{3,4})(?!\w)"  # 020 7946 0958
        ),
    ),
)
_NAME_PART_MIN = 3


@dataclass(frozen=True)
class Redaction:
    """A redacted text and how many items of each kind were replaced."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Items replaced, all kinds together."""
        return sum(self.counts.values())


def redact(text: str, names: Iterable[str] = ()) -> Redaction:
    """``text`` with every e-mail, URL, ORCID-like id, phone number and given name replaced.

    Args:
        text: a JD or a talent profile.
        names: people's names known to occur in the text (e.g. the talent's own name).
    Returns:
        The redacted text and the count of each kind replaced (kinds with no match are absent).
    """
    counts: Counter[str] = Counter()
    for kind, pattern in (*_PATTERNS, *_name_patterns(names)):
        text, n = pattern.subn(PLACEHOLDERS[kind], text)
        if n:
            counts[kind] += n
    return Redaction(text=text, counts=dict(counts))


def _name_patterns(names: Iterable[str]) -> list[tuple[str, re.Pattern[str]]]:
    """One pattern per full name, then one per name part, longest first (so a full name counts once)."""
    full = {n.strip() for n in names if n and n.strip()}
    words = {w for n in full for w in n.split()}  # "Garcia-Lopez" as a whole, then "Garcia" and "Lopez"
    parts = {p for p in words | {h for w in words for h in w.split("-")} if len(p) >= _NAME_PART_MIN} - full
    ordered = sorted(full, key=len, reverse=True) + sorted(parts, key=len, reverse=True)
    return [("name", re.compile(rf"(?<!\w){re.escape(n)}(?!\w)", re.IGNORECASE)) for n in ordered]
