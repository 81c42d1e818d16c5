"""Talent pools to index: ``{"id", "text"}`` JSONL, or the reference contrastive format.

A contrastive file (``{"query", "positives", "negatives"}`` per line) has no talent ids: every
distinct passage becomes a talent, with the id the record carries (``positive_ids`` /
``negative_ids``) or else ``t-`` and the first 12 hex digits of the text's sha1 — a content id, so
that appending another file of the same market gives a known talent its known id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from jobmatch.data.readers import DataFormatError, read_contrastive, read_corpus_lines


@dataclass(frozen=True)
class Talent:
    """One talent profile; ``line`` is its line in the source file (``None`` when derived from a
    contrastive record, where ``line`` would be ambiguous)."""

    id: str
    text: str
    line: int | None = None


def content_id(text: str) -> str:
    """A stable id for a talent text without one."""
    return "t-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def is_contrastive(path: Path) -> bool:
    """Whether a talent file is in the reference contrastive format (its first object has ``query``)."""
    first = _first_object(path)
    return bool(first) and "query" in first


def _first_object(path: Path) -> dict | None:
    with path.open(encoding="utf-8", errors="replace") as handle:  # a sniff: the reader reports bad bytes
        for line in handle:
            if line.strip():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    return None
                return obj if isinstance(obj, dict) else None
    return None


def _read_id_text(path: Path) -> list[Talent]:
    return [Talent(tid, text, number) for number, tid, text in read_corpus_lines(path)]


def _read_contrastive_passages(path: Path) -> list[Talent]:
    talents: dict[str, Talent] = {}
    for index, record in enumerate(read_contrastive(path), start=1):
        for texts, ids in ((record.positives, record.positive_ids), (record.negatives, record.negative_ids)):
            for i, text in enumerate(texts):
                tid = ids[i] if ids else content_id(text)
                known = talents.get(tid)
                if known is not None and known.text != text:
                    raise DataFormatError(path, 0, f"record {index}: id '{tid}' names two different texts")
                talents.setdefault(tid, Talent(tid, text))
    return list(talents.values())


def read_talents(path: str | Path) -> list[Talent]:
    """Every talent of a corpus file, in file order, validated.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: a bad line (``FILE:LINE: problem``): not JSON, no ``id`` or ``text``, an empty
            text, a duplicate id; or an empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such corpus file")
    first = _first_object(path)
    talents = _read_contrastive_passages(path) if first and "query" in first else _read_id_text(path)
    if not talents:
        raise DataFormatError(path, 0, "no talents in file")
    return talents
