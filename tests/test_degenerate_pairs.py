"""Preference pairs whose two sides are the same talent are dropped and counted; a file of only those stops."""

import json
from pathlib import Path

import pytest

from jobmatch.data.preferences import load_preference_splits
from jobmatch.errors import UserError
from tests.helpers import FIXTURES


def _pairs() -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / "preferences_tiny.jsonl").read_text().splitlines()]


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _same_text(row: dict) -> dict:
    return row | {"passage2": row["passage1"]}


def _same_id(row: dict) -> dict:
    return row | {"passage_id1": "t7", "passage_id2": "t7"}


def test_degenerate_pairs_are_dropped_and_counted(tmp_path: Path, caplog) -> None:
    rows = _pairs()
    train = _write(tmp_path / "train.jsonl", [_same_text(rows[0]), _same_id(rows[1]), *rows[2:30]])
    test = _write(tmp_path / "test.jsonl", [_same_text(rows[30]), *rows[31:]])

    with caplog.at_level("INFO"):
        splits = load_preference_splits(train, test_file=test, val_fraction=0.1)

    assert splits.degenerate == 3
    assert len(splits.all()) == len(rows) - 3
    assert all(r.passage1 != r.passage2 for r in splits.all())
    assert "(3 degenerate pairs dropped)" in caplog.text
    assert f"{test}: 1 degenerate preference pairs dropped" in caplog.text


@pytest.mark.parametrize("make", [_same_text, _same_id], ids=["same-text", "same-id"])
def test_a_file_of_only_degenerate_pairs_stops_naming_it(tmp_path: Path, make) -> None:
    path = _write(tmp_path / "pairs.jsonl", [make(r) for r in _pairs()[:5]])
    with pytest.raises(UserError, match=rf"^{path}: all 5 preference pairs are degenerate .*; fix: "):
        load_preference_splits(path)
