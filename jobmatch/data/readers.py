"""JSONL readers that validate every line and name the file, line and problem on failure.

Every reader shares one loop (:func:`iter_jsonl`): each line is parsed and handed to a
record builder that raises :class:`_LineProblem`; the loop turns it into a
:class:`DataFormatError` with the file and line number, or skips and counts the line when the
caller asks for ``on_error="skip"``.
"""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from jobmatch.data.records import ContrastiveRecord, PreferenceRecord
from jobmatch.errors import UserError
from jobmatch.utils.atomic import atomic_write

log = logging.getLogger(__name__)

T = TypeVar("T")
OnError = Literal["raise", "skip"]

CONTRASTIVE_KNOWN = {"query", "positives", "negatives", "query_id", "positive_ids", "negative_ids",
                     "negative_rounds"}
PREFERENCE_KNOWN = {"query", "passage1", "passage2", "preferred", "confidence_score", "query_id",
                    "passage_id1", "passage_id2", "passage_rank1", "passage_rank2", "model", "response"}


class DataFormatError(UserError, ValueError):
    """A data file has a bad line. ``str(err)`` reads ``FILE:LINE: problem``."""

    def __init__(self, path: str | Path, line: int, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        super().__init__(f"{self.path}:{line}: {problem}")


class _LineProblem(Exception):
    """Raised by record builders; the reader adds the file and line."""


def _text(obj: dict[str, Any], key: str) -> str:
    if key not in obj:
        raise _LineProblem(f"missing key '{key}'")
    value = obj[key]
    if not isinstance(value, str):
        raise _LineProblem(f"'{key}' must be a string, got {type(value).__name__}")
    if not value.strip():
        raise _LineProblem(f"'{key}' is empty")
    return value


def _text_list(obj: dict[str, Any], key: str, *, min_len: int) -> tuple[str, ...]:
    if key not in obj:
        raise _LineProblem(f"missing key '{key}'")
    value = obj[key]
    if not isinstance(value, list):
        raise _LineProblem(f"'{key}' must be a list of strings, got {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _LineProblem(f"'{key}[{i}]' must be a string, got {type(item).__name__}")
        if not item.strip():
            raise _LineProblem(f"'{key}[{i}]' is empty")
    if len(value) < min_len:
        what = "is empty" if not value else f"has {len(value)} items"
        raise _LineProblem(f"'{key}' {what}, at least {min_len} required")
    return tuple(value)


def _optional(obj: dict[str, Any], key: str, kinds: tuple[type, ...]) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise _LineProblem(f"'{key}' must be {names}, got {type(value).__name__}")
    return value


def _optional_list(obj: dict[str, Any], key: str, kind: type, length: int) -> tuple[Any, ...] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool)
                                              for v in value):
        raise _LineProblem(f"'{key}' must be a list of {kind.__name__}")
    if len(value) != length:
        raise _LineProblem(f"'{key}' has {len(value)} items but there are {length} texts")
    return tuple(value)


def contrastive_from_json(obj: dict[str, Any], *, min_negatives: int = 0) -> ContrastiveRecord:
    """Build a :class:`ContrastiveRecord` from a parsed line; raises ``_LineProblem``.

    A text row carries ``positives``/``negatives`` (texts; ids optional); an id row carries only
    ``positive_ids``/``negative_ids`` (talents of a corpus file), its ``positives``/``negatives`` then empty.
    """
    query = _text(obj, "query")
    if "positives" not in obj and "positive_ids" in obj:  # an id row: talents are corpus ids
        positive_ids = _id_list(obj, "positive_ids", min_len=1)
        negative_ids = _id_list(obj, "negative_ids", min_len=min_negatives)
        return ContrastiveRecord(
            query=query, positives=(), negatives=(), query_id=_id(obj, "query_id"),
            positive_ids=positive_ids, negative_ids=negative_ids,
            negative_rounds=_optional_list(obj, "negative_rounds", int, len(negative_ids)),
            extra={k: v for k, v in obj.items() if k not in CONTRASTIVE_KNOWN},
        )
    positives = _text_list(obj, "positives", min_len=1)
    negatives = _text_list(obj, "negatives", min_len=min_negatives)
    return ContrastiveRecord(
        query=query,
        positives=positives,
        negatives=negatives,
        query_id=_id(obj, "query_id"),
        positive_ids=_optional_list(obj, "positive_ids", str, len(positives)),
        negative_ids=_optional_list(obj, "negative_ids", str, len(negatives)),
        negative_rounds=_optional_list(obj, "negative_rounds", int, len(negatives)),
        extra={k: v for k, v in obj.items() if k not in CONTRASTIVE_KNOWN},
    )


def _id_list(obj: dict[str, Any], key: str, *, min_len: int) -> tuple[str, ...]:
    """A list of ids (non-empty strings or integers) of at least ``min_len`` items, as strings."""
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise _LineProblem(f"'{key}' must be a list of ids, got {type(value).__name__}")
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, str | int) or not str(item).strip():
            raise _LineProblem(f"'{key}[{i}]' must be a non-empty string or integer, got {item!r}")
    if len(value) < min_len:
        what = "is empty" if not value else f"has {len(value)} items"
        raise _LineProblem(f"'{key}' {what}, at least {min_len} required")
    return tuple(str(v) for v in value)


def _id(obj: dict[str, Any], key: str) -> str | None:
    value = _optional(obj, key, (str, int))
    return None if value is None else str(value)


def preference_from_json(obj: dict[str, Any]) -> PreferenceRecord:
    """Build a :class:`PreferenceRecord` from a parsed line; raises ``_LineProblem``. An id row names its talents
    by ``passage_id1``/``passage_id2`` only (no ``passage1``/``passage2``): its texts are then empty until
    :func:`jobmatch.data.preferences.resolve_texts` reads them from the corpus."""
    query = _text(obj, "query")
    if "passage1" not in obj and "passage2" not in obj and "passage_id1" in obj:  # an id row: corpus talents
        if _id(obj, "passage_id1") is None or _id(obj, "passage_id2") is None:
            raise _LineProblem("an id row needs 'passage_id1' and 'passage_id2'")
        passage1 = passage2 = ""
    else:
        passage1 = _text(obj, "passage1")
        passage2 = _text(obj, "passage2")
    if "preferred" not in obj:
        raise _LineProblem("missing key 'preferred'")
    preferred = obj["preferred"]
    if preferred not in ("A", "B"):
        raise _LineProblem(f"'preferred' must be \"A\" or \"B\", got {preferred!r}")
    confidence = _optional(obj, "confidence_score", (int, float))
    if confidence is not None and not 0 <= confidence <= 100:
        raise _LineProblem(f"'confidence_score' must be within 0..100, got {confidence}")
    return PreferenceRecord(
        query=query,
        passage1=passage1,
        passage2=passage2,
        preferred=preferred,
        confidence_score=None if confidence is None else float(confidence),
        query_id=_id(obj, "query_id"),
        passage_id1=_id(obj, "passage_id1"),
        passage_id2=_id(obj, "passage_id2"),
        passage_rank1=_optional(obj, "passage_rank1", (int,)),
        passage_rank2=_optional(obj, "passage_rank2", (int,)),
        model=_optional(obj, "model", (str,)),
        response=_optional(obj, "response", (str,)),
        extra={k: v for k, v in obj.items() if k not in PREFERENCE_KNOWN},
    )


def decode_line(raw: bytes, *, first: bool = False) -> str:
    """One line of a file as UTF-8 text (a BOM on the first line is dropped); raises ``_LineProblem``."""
    if first and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _LineProblem(utf8_problem(err)) from None


def utf8_problem(err: UnicodeDecodeError, line_start: int = 0) -> str:
    """``not valid UTF-8 (byte 0xE9 at column 12); fix`` for a decode error in a line starting at ``line_start``."""
    byte = err.object[err.start]
    return (f"not valid UTF-8 (byte 0x{byte:02X} at column {err.start - line_start + 1}); "
            "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 FILE)")


def read_utf8(path: str | Path) -> str:
    """A whole text file as UTF-8; a byte that is not UTF-8 raises :class:`DataFormatError` at its line."""
    return decode_utf8(Path(path).read_bytes(), path)


def decode_utf8(data: bytes, path: str | Path) -> str:
    """``data`` (the content of ``path``, or of ``<stdin>``) as UTF-8 text, without a leading BOM;
    a byte that is not UTF-8 raises :class:`DataFormatError` at its line."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line_start = data.rfind(b"\n", 0, err.start) + 1
        raise DataFormatError(path, data.count(b"\n", 0, err.start) + 1, utf8_problem(err, line_start)) from None


def iter_jsonl(
    path: str | Path, build: Callable[[dict[str, Any], int], T], on_error: OnError, what: str = "data"
) -> Iterator[T]:
    """Yield ``build(obj, line)`` for every non-blank line of a JSONL file, streaming (one line in memory).

    A bad line raises :class:`DataFormatError` (``FILE:LINE: problem``), or with ``on_error="skip"`` is
    logged, counted and skipped. A file without one valid record raises too.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what} file")
    kept = skipped = 0
    with path.open("rb") as handle:  # bytes: a line that is not UTF-8 is a bad line, not a crash
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                line = decode_line(raw, first=number == 1)
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as err:
                    raise _LineProblem(f"not valid JSON ({err.msg} at column {err.colno})") from None
                if not isinstance(obj, dict):
                    raise _LineProblem(f"expected a JSON object, got {type(obj).__name__}")
                record = build(obj, number)
            except _LineProblem as problem:
                if on_error == "raise":
                    raise DataFormatError(path, number, str(problem)) from None
                skipped += 1
                log.warning("%s:%d: %s (line skipped)", path, number, problem)
                continue
            kept += 1
            yield record
    if skipped:
        log.warning("%s: skipped %d bad line(s), kept %d", path, skipped, kept)
    if not kept:
        raise DataFormatError(path, 0, "no valid records in file")


def _read_jsonl(
    path: str | Path, build: Callable[[dict[str, Any], int], T], on_error: OnError, what: str = "data"
) -> list[T]:
    return list(iter_jsonl(path, build, on_error, what))


def read_contrastive(
    path: str | Path, *, min_negatives: int = 0, on_error: OnError = "raise"
) -> list[ContrastiveRecord]:
    """Read a contrastive JSONL file (``{query, positives, negatives}`` per line).

    Args:
        path: the file.
        min_negatives: lines with fewer negatives are bad (the sampler draws this many).
        on_error: ``"raise"`` stops at the first bad line; ``"skip"`` drops bad lines with a warning.
    """
    return _read_jsonl(path, lambda o, _: contrastive_from_json(o, min_negatives=min_negatives), on_error)


def read_preferences(path: str | Path, *, on_error: OnError = "raise") -> list[PreferenceRecord]:
    """Read a preference JSONL file (``{query, passage1, passage2, preferred, ...}`` per line)."""
    return _read_jsonl(path, lambda o, _: preference_from_json(o), on_error)


def read_corpus_lines(path: str | Path) -> list[tuple[int, str, str]]:
    """Read a talent corpus (``{"id": ..., "text": ...}`` per line) as (line, id, text), validating
    every line: JSON object, an ``id`` (non-empty string or integer), a non-empty ``text``, no
    duplicate id (the error names the first line too)."""
    first_line: dict[str, int] = {}

    def entry(obj: dict[str, Any], number: int) -> tuple[int, str, str]:
        number, cid, text = corpus_entry(obj, number)
        if cid in first_line:
            raise _LineProblem(f"duplicate id '{cid}' (first on line {first_line[cid]})")
        first_line[cid] = number
        return number, cid, text

    return _read_jsonl(path, entry, "raise", what="corpus")


def corpus_entry(obj: dict[str, Any], number: int) -> tuple[int, str, str]:
    """(line, id, text) of one corpus line: an ``id`` (non-empty string or integer) and a non-empty
    ``text``; raises ``_LineProblem``."""
    cid = obj.get("id")
    if cid is None:
        raise _LineProblem("missing key 'id'")
    if isinstance(cid, bool) or not isinstance(cid, str | int) or not str(cid).strip():
        raise _LineProblem(f"'id' must be a non-empty string or integer, got {cid!r}")
    return number, str(cid), _text(obj, "text")


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write JSON objects one per line, atomically (temporary file beside it, fsync, rename).

    Raises:
        WriteError: a full disk or another OS error (one line; a previous file at ``path`` is kept).
    """
    with atomic_write(path, "data file") as handle:
        for row in rows:
            handle.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
