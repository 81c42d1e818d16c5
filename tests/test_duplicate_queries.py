"""Duplicate queries: counted in a warning, and every row of a JD on one side of the train/val split."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from jobmatch.app.builders import container
from jobmatch.data.datamodule import PairDataModule, split_holdout
from jobmatch.data.duplicates import count_duplicates, warn_duplicates
from jobmatch.data.readers import read_contrastive
from jobmatch.data.records import ContrastiveRecord
from tests.helpers import compose_config


def row(query: str, positive: str = "p") -> ContrastiveRecord:
    return ContrastiveRecord(query=query, positives=(positive,), negatives=("n1", "n2"))


# JD "a" on three rows (two with other positives), "b" twice (same positive), 8 unique JDs.
RECORDS = [row("a"), row("b"), row("a ", "q"), *(row(f"u{i}") for i in range(8)), row("b"), row("a", "r")]


def test_counts() -> None:
    found = count_duplicates(RECORDS)
    assert (found.repeated, found.extra_rows, found.conflicting) == (2, 3, 1)


def test_warning_states_the_counts(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        warn_duplicates(RECORDS, "train.jsonl")
    assert (
        "train.jsonl: 2 JD(s) appear on more than one row (3 extra row(s); 1 with different positives)" in caplog.text
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        warn_duplicates(RECORDS[3:11], "unique.jsonl")
    assert caplog.text == ""


@pytest.mark.parametrize("seed", range(20))
def test_split_keeps_all_rows_of_a_jd_on_one_side(seed: int) -> None:
    train, val = split_holdout(RECORDS, 0.2, seed)
    assert len(train) + len(val) == len(RECORDS)
    assert not {r.query.strip() for r in train} & {r.query.strip() for r in val}
    assert len({r.query.strip() for r in val}) == 2  # 20% of the 10 unique JDs


def test_without_duplicates_the_split_is_the_row_split() -> None:
    unique = RECORDS[3:11]
    order = np.random.default_rng(7).permutation(len(unique))
    held = set(order[: round(0.25 * len(unique))].tolist())
    assert split_holdout(unique, 0.25, 7)[1] == [r for i, r in enumerate(unique) if i in held]


def test_datamodule_warns_and_splits_by_jd(tmp_path: Path, tiny_data: Path, caplog: pytest.LogCaptureFixture) -> None:
    lines = tiny_data.read_text().splitlines()
    first = json.loads(lines[0])
    twin = {**first, "positives": [*first["positives"][:1], "<title> another profile </title>"]}
    path = tmp_path / "dup.jsonl"
    path.write_text("\n".join([*lines, json.dumps(twin), lines[0]]) + "\n")
    model = container(compose_config(["model=tiny_bert"]).model)
    dm = PairDataModule(model=model, train_file=str(path), val_fraction=0.3, n_negatives=2, seed=1)
    with caplog.at_level(logging.WARNING):
        dm.setup("fit")
    assert f"{path}: 1 JD(s) appear on more than one row (2 extra row(s); 1 with different positives)" in caplog.text
    train, val = dm.train_set.query_rows, dm.val_set.query_rows  # type: ignore[union-attr]
    assert not set(dm.query_store.texts(train)) & set(dm.query_store.texts(val))  # type: ignore[union-attr]
    assert len(train) + len(val) == len(read_contrastive(path))
