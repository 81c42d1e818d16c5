"""Duplicate queries (the same JD on several rows): counted, warned about, and kept on one side of a split.

A JD that appears twice, in training and in validation, leaks: validation then measures recall of a
query the model was trained on. Rows are grouped by their query text (surrounding spaces ignored):
``jd_key``, the text itself for records with texts, its digest for rows by reference.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from jobmatch.data.records import ContrastiveRecord, ContrastiveRow

log = logging.getLogger(__name__)


def query_groups(records: Sequence[ContrastiveRecord | ContrastiveRow]) -> list[list[int]]:
    """Row indices grouped by query text (``jd_key``), in order of each query's first row."""
    groups: dict[str | bytes, list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault(record.jd_key, []).append(i)
    return list(groups.values())


@dataclass(frozen=True)
class DuplicateQueries:
    """How often queries repeat: ``repeated`` JDs on more than one row, ``extra_rows`` rows beyond each
    JD's first, ``conflicting`` repeated JDs whose rows list different positives."""

    repeated: int
    extra_rows: int
    conflicting: int


def count_duplicates(records: Sequence[ContrastiveRecord | ContrastiveRow]) -> DuplicateQueries:
    """Count the repeated queries of ``records``."""
    groups = [g for g in query_groups(records) if len(g) > 1]
    conflicting = sum(len({frozenset(records[i].positives) for i in g}) > 1 for g in groups)
    return DuplicateQueries(len(groups), sum(len(g) - 1 for g in groups), conflicting)


def warn_duplicates(records: Sequence[ContrastiveRecord | ContrastiveRow], source: str) -> DuplicateQueries:
    """Log a warning with the counts when some query of ``source`` is on more than one row."""
    found = count_duplicates(records)
    if found.repeated:
        log.warning(
            "%s: %d JD(s) appear on more than one row (%d extra row(s); %d with different positives); "
            "each JD's rows are kept on one side of the train/val split",
            source,
            found.repeated,
            found.extra_rows,
            found.conflicting,
        )
    return found


def warn_overlap(
    train: Sequence[ContrastiveRecord | ContrastiveRow], val: Sequence[ContrastiveRecord | ContrastiveRow], source: str
) -> int:
    """Log a warning when JDs of the validation file ``source`` are also training JDs; returns their number."""
    seen = {r.jd_key for r in train}
    shared = len({r.jd_key for r in val} & seen)
    if shared:
        log.warning(
            "%s: %d validation JD(s) are also in the training file: validation metrics overstate "
            "generalisation; remove them from one of the files",
            source,
            shared,
        )
    return shared
