"""Id rows to the reference format: talents' texts read from the corpus file and written inline.

    python -m jobmatch.data.inline --corpus corpus.jsonl --rows mined.jsonl --out mined_texts.jsonl

Contrastive rows (``positive_ids``/``negative_ids``) and judged pairs (``passage_id1/2``) are recognised line
by line; text rows pass through unchanged. Rows are streamed, a slice at a time, and each slice's texts are
read from the corpus store (built once in ``--cache-dir``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from jobmatch.data.corpus import Corpus
from jobmatch.data.readers import (
    DataFormatError,
    contrastive_from_json,
    iter_jsonl,
    preference_from_json,
)
from jobmatch.data.records import ContrastiveRecord, PreferenceRecord

Row = ContrastiveRecord | PreferenceRecord
SLICE = 1024  # rows whose texts are read at a time


def _build(obj: dict, _line: int) -> Row:
    return preference_from_json(obj) if "preferred" in obj else contrastive_from_json(obj)


def _ids(row: Row) -> list[str]:
    if isinstance(row, PreferenceRecord):
        return [row.passage_id1, row.passage_id2] if row.is_id_row else []  # type: ignore[list-item]
    return [*(row.positive_ids or ()), *(row.negative_ids or ())] if row.is_id_row else []


def with_texts(rows: Iterable[Row], corpus: Corpus, source: str = "") -> Iterator[Row]:
    """``rows`` with every id row's talent texts read from ``corpus`` (a slice of rows at a time)."""
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, SLICE)):
        ids = sorted({cid for row in chunk for cid in _ids(row)})
        positions = corpus.positions(ids)
        if (positions < 0).any():
            raise DataFormatError(source, 0, f"talent id '{ids[int((positions < 0).argmax())]}' is not in the corpus")
        text_of = dict(zip(ids, corpus.texts(positions), strict=True))
        for row in chunk:
            if not _ids(row):
                yield row
            elif isinstance(row, PreferenceRecord):
                yield replace(row, passage1=text_of[row.passage_id1], passage2=text_of[row.passage_id2])  # type: ignore[index]
            else:
                yield replace(row, positives=tuple(text_of[c] for c in row.positive_ids or ()),
                              negatives=tuple(text_of[c] for c in row.negative_ids or ()))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, convert, report; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m jobmatch.data.inline", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the corpus JSONL the ids refer to")
    parser.add_argument("--rows", type=Path, required=True, help="contrastive or preference JSONL (id rows)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the reference format")
    parser.add_argument("--cache-dir", type=Path, default=None, help="where the corpus store is kept")
    args = parser.parse_args(argv)
    try:
        corpus = Corpus.open(args.corpus, args.cache_dir)
        rows = iter_jsonl(args.rows, _build, "raise")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        count = 0
        with args.out.open("w", encoding="utf-8") as handle:
            for row in with_texts(rows, corpus, str(args.rows)):
                handle.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
                count += 1
    except (DataFormatError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {count} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
