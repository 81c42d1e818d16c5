"""Judged preference pairs for stage 2: splits held out by JD, the dataset and its collator."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from jobmatch.data.collate import PreferenceBatch, distinct, pad_tokens
from jobmatch.data.corpus import Corpus
from jobmatch.data.interning import TextInterner
from jobmatch.data.pair_rows import PassageSpace
from jobmatch.data.readers import DataFormatError, OnError, read_preferences
from jobmatch.data.records import PreferenceRecord
from jobmatch.data.token_store import TokenSource
from jobmatch.errors import OptionError, UserError

log = logging.getLogger(__name__)


@dataclass
class PreferenceSplits:
    """Judged pairs for training, validation (checkpoint choice) and the held-out test (alignment)."""

    train: list[PreferenceRecord]
    val: list[PreferenceRecord]
    test: list[PreferenceRecord]
    degenerate: int = 0  # pairs dropped on reading: the same talent (text or id) on both sides

    def all(self) -> list[PreferenceRecord]:
        """Every pair in global index order: train, then val, then test."""
        return [*self.train, *self.val, *self.test]


def jd_key(record: PreferenceRecord) -> str:
    """The JD a pair belongs to: its ``query_id`` or, without one, its text."""
    return record.query_id or record.query


def split_by_jd(
    records: Sequence[PreferenceRecord], fractions: Sequence[float], seed: int
) -> list[list[PreferenceRecord]]:
    """Seeded split of the pairs by JD: ``fractions`` of the JDs each, then the rest (training).

    All pairs of one JD land in the same part, so that held-out alignment measures JDs the model
    never trained on. A part with a positive fraction gets at least one JD while JDs remain for
    training.

    Returns:
        ``len(fractions) + 1`` lists: one per fraction, then the remainder.
    """
    if any(not 0 <= f < 1 for f in fractions) or sum(fractions) >= 1:
        raise ValueError(f"held-out fractions must be in [0, 1) and sum below 1, got {list(fractions)}")
    jds = list(dict.fromkeys(jd_key(r) for r in records))
    order = [jds[i] for i in np.random.default_rng(seed).permutation(len(jds))]
    part_of: dict[str, int] = {}
    start = 0
    for part, fraction in enumerate(fractions):
        n = 0 if fraction == 0 else max(1, round(fraction * len(jds)))
        n = min(n, len(jds) - start - 1)  # keep at least one JD for training
        part_of.update({jd: part for jd in order[start : start + max(n, 0)]})
        start += max(n, 0)
    parts: list[list[PreferenceRecord]] = [[] for _ in range(len(fractions) + 1)]
    for record in records:
        parts[part_of.get(jd_key(record), len(fractions))].append(record)
    return parts


def filter_confidence(records: Sequence[PreferenceRecord], min_confidence: float | None) -> list[PreferenceRecord]:
    """Pairs whose judge confidence is at least ``min_confidence`` (pairs without one are dropped)."""
    if min_confidence is None:
        return list(records)
    kept = [r for r in records if r.confidence_score is not None and r.confidence_score >= min_confidence]
    log.info("min_confidence=%s keeps %d of %d training pairs", min_confidence, len(kept), len(records))
    if not kept:
        raise OptionError(f"{{min_confidence}}={min_confidence}: leaves no training pairs; lower it or set it to null")
    return kept


def resolve_texts(records: list[PreferenceRecord], corpus: Corpus | None, path: str) -> list[PreferenceRecord]:
    """``records`` with the talent texts of id rows read from ``corpus`` (one join; each text read once)."""
    pending = [i for i, r in enumerate(records) if r.is_id_row]
    if not pending:
        return records
    if corpus is None:
        raise DataFormatError(path, 0, "this file names talents by id (passage_id1/2) but there is no corpus file: "
                                       "pass the corpus file (corpus_file=PATH)")
    ids = sorted({cid for i in pending for cid in (records[i].passage_id1, records[i].passage_id2)})  # type: ignore[misc]
    positions = corpus.positions(ids)
    if (positions < 0).any():
        missing = ids[int(np.flatnonzero(positions < 0)[0])]
        raise DataFormatError(path, 0, f"talent id '{missing}' is not in the corpus file")
    text_of = dict(zip(ids, corpus.texts(positions), strict=True))
    out = list(records)
    for i in pending:
        r = records[i]
        out[i] = replace(r, passage1=text_of[r.passage_id1], passage2=text_of[r.passage_id2])  # type: ignore[index]
    return out


def is_degenerate(record: PreferenceRecord) -> bool:
    """Whether both sides of the pair are the same talent (same text, or same id): it says nothing about
    which talent the judge prefers, and its loss gradient only pulls the two scores together."""
    same_id = record.passage_id1 is not None and record.passage_id1 == record.passage_id2
    return same_id or record.passage1 == record.passage2


def informative_pairs(records: list[PreferenceRecord], path: str | Path) -> tuple[list[PreferenceRecord], int]:
    """``records`` of the file ``path`` without the degenerate pairs, and how many were dropped.

    Raises :class:`UserError` naming the file when every pair of it is degenerate."""
    kept = [r for r in records if not is_degenerate(r)]
    dropped = len(records) - len(kept)
    if records and not kept:
        raise UserError(f"{path}: all {dropped} preference pairs are degenerate (the same talent text or id on "
                        "both sides), nothing to learn or measure; fix: pair two different talents per JD")
    if dropped:
        log.warning("%s: %d degenerate preference pairs dropped (the same talent text or id on both sides)",
                    path, dropped)
    return kept, dropped


def load_preference_splits(
    train_file: str,
    val_file: str | None = None,
    test_file: str | None = None,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    min_confidence: float | None = None,
    on_error: OnError = "raise",
    corpus: Corpus | None = None,
) -> PreferenceSplits:
    """Read the preference files (text rows or id rows into ``corpus``); hold out by JD whichever of val/test has
    no file of its own.

    ``min_confidence`` filters the training pairs only: validation and test keep every judged pair
    (the test report breaks alignment down by confidence instead). Degenerate pairs (the same talent on both
    sides) are dropped from every file and counted; a file of only such pairs raises :class:`UserError`.
    """
    read = {name: informative_pairs(resolve_texts(read_preferences(path, on_error=on_error), corpus, path), path)
            for name, path in (("train", train_file), ("val", val_file), ("test", test_file)) if path}
    train = read["train"][0]
    val = read["val"][0] if "val" in read else None
    test = read["test"][0] if "test" in read else None
    fractions = [0.0 if test is not None else test_fraction, 0.0 if val is not None else val_fraction]
    held_test, held_val, train = split_by_jd(train, fractions, seed)
    splits = PreferenceSplits(train=filter_confidence(train, min_confidence),
                              val=val if val is not None else held_val,
                              test=test if test is not None else held_test,
                              degenerate=sum(dropped for _, dropped in read.values()))
    log.info("preferences: %d train / %d val / %d test pairs (%d degenerate pairs dropped)", len(splits.train),
             len(splits.val), len(splits.test), splits.degenerate)
    return splits


def preference_rows(records: Sequence[PreferenceRecord], queries: TextInterner, passages: PassageSpace) -> np.ndarray:
    """[P, 3] rows of each pair's JD (in ``queries``), chosen and rejected talent (in ``passages``), interning texts."""
    return np.array(
        [[queries.add(r.query), passages.add(r.chosen), passages.add(r.rejected)] for r in records], dtype=np.int64
    ).reshape(-1, 3)


class PreferenceDataset(Dataset):
    """Judged pairs as rows [P, 3] (JD, chosen, rejected) into token stores; item = (query ids, chosen ids,
    rejected ids, index), int32 ids.

    ``index`` is the pair's global index (``first_index`` + position), the key of the reference
    scores. Items may be addressed by ``(index, epoch)`` as :class:`EpochSampler` yields them.
    """

    def __init__(self, rows: np.ndarray, queries: TokenSource, passages: TokenSource, *, first_index: int = 0) -> None:
        self.rows = np.asarray(rows, dtype=np.int64).reshape(-1, 3)  # [P, 3]
        self.first_index = first_index
        self.queries, self.passages = queries, passages

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        index = key[0] if isinstance(key, tuple) else key
        query, chosen, rejected = self.rows[index].tolist()
        talents = self.passages.rows([chosen, rejected])
        return self.queries.rows([query])[0], talents[0], talents[1], self.first_index + int(index)


class PreferenceCollator:
    """Collate ``(query, chosen, rejected, index)`` examples into a :class:`PreferenceBatch` holding each
    distinct JD and talent once."""

    def __init__(self, pad_id: int, side: str = "right", multiple_of: int = 1) -> None:
        self.pad = {"pad_id": pad_id, "side": side, "multiple_of": multiple_of}

    def __call__(self, examples: Sequence[tuple]) -> PreferenceBatch:
        batch = len(examples)
        queries, query_index = distinct([e[0] for e in examples])
        talents, talent_index = distinct([e[1] for e in examples] + [e[2] for e in examples])
        rows = torch.tensor(talent_index, dtype=torch.long)  # [2B]: chosen rows, then rejected rows
        return PreferenceBatch(
            queries=pad_tokens(queries, **self.pad),  # [Uq, Lq]
            talents=pad_tokens(talents, **self.pad),  # [Ut, Lp]
            query_index=torch.tensor(query_index, dtype=torch.long),  # [B]
            chosen_index=rows[:batch],
            rejected_index=rows[batch:],
            index=torch.tensor([e[3] for e in examples], dtype=torch.long),  # [B]
        )
