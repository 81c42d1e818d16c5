"""Readers: every kind of bad line names the file, the line and the problem."""

import json
from pathlib import Path

import pytest

from jobmatch.data.readers import DataFormatError, read_contrastive, read_preferences, write_jsonl
from tests.helpers import SHARED_SAMPLE

GOOD_ROW = {"query": "JD", "positives": ["p1"], "negatives": ["n1", "n2"]}
GOOD_PAIR = {"query": "JD", "passage1": "a", "passage2": "b", "preferred": "A", "confidence_score": 80}


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"positives": ["p"], "negatives": []}), "missing key 'query'"),
        (json.dumps({**GOOD_ROW, "query": 3}), "'query' must be a string"),
        (json.dumps({**GOOD_ROW, "positives": "p"}), "'positives' must be a list"),
        (json.dumps({**GOOD_ROW, "positives": []}), "'positives' is empty"),
        (json.dumps({**GOOD_ROW, "negatives": ["n1", 2]}), "'negatives[1]' must be a string"),
        (json.dumps({**GOOD_ROW, "negatives": ["n1"]}), "'negatives' has 1 items, at least 2 required"),
    ],
)
def test_contrastive_bad_lines(tmp_path: Path, bad: str, problem: str) -> None:
    path = write_lines(tmp_path / "train.jsonl", [json.dumps(GOOD_ROW), bad])
    with pytest.raises(DataFormatError) as info:
        read_contrastive(path, min_negatives=2)
    assert info.value.line == 2
    assert info.value.path == str(path)
    assert problem in str(info.value)
    assert str(info.value).startswith(f"{path}:2: ")


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (json.dumps({**GOOD_PAIR, "preferred": "C"}), "'preferred' must be \"A\" or \"B\""),
        (json.dumps({k: v for k, v in GOOD_PAIR.items() if k != "preferred"}), "missing key 'preferred'"),
        (json.dumps({**GOOD_PAIR, "passage2": ""}), "'passage2' is empty"),
        (json.dumps({**GOOD_PAIR, "confidence_score": 140}), "within 0..100"),
        (json.dumps({**GOOD_PAIR, "confidence_score": "high"}), "'confidence_score' must be"),
    ],
)
def test_preference_bad_lines(tmp_path: Path, bad: str, problem: str) -> None:
    path = write_lines(tmp_path / "pairs.jsonl", [json.dumps(GOOD_PAIR), "", bad])
    with pytest.raises(DataFormatError, match=problem) as info:
        read_preferences(path)
    assert info.value.line == 3


def test_skip_mode_counts_and_keeps_good_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_lines(tmp_path / "train.jsonl", [json.dumps(GOOD_ROW), "oops", json.dumps(GOOD_ROW)])
    records = read_contrastive(path, on_error="skip")
    assert len(records) == 2
    assert "skipped 1 bad line" in caplog.text


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such data file"):
        read_contrastive(tmp_path / "absent.jsonl")
    with pytest.raises(DataFormatError, match="no valid records"):
        read_contrastive(write_lines(tmp_path / "empty.jsonl", [""]))


def test_round_trip_keeps_ids_and_extra_keys(tmp_path: Path) -> None:
    row = {**GOOD_ROW, "query_id": "q1", "positive_ids": ["t1"], "negative_ids": ["t2", "t3"], "source": "x"}
    pair = {**GOOD_PAIR, "passage_rank1": 3, "usage": {"total_tokens": 5}}
    write_jsonl(tmp_path / "c.jsonl", [row])
    write_jsonl(tmp_path / "p.jsonl", [pair])
    record = read_contrastive(tmp_path / "c.jsonl")[0]
    assert record.to_json() == row
    preference = read_preferences(tmp_path / "p.jsonl")[0]
    assert preference.chosen == "a" and preference.rejected == "b"
    assert preference.to_json() == {**pair, "confidence_score": 80.0}


def test_ids_must_match_texts(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "c.jsonl", [json.dumps({**GOOD_ROW, "negative_ids": ["only-one"]})])
    with pytest.raises(DataFormatError, match="'negative_ids' has 1 items but there are 2 texts"):
        read_contrastive(path)


@pytest.mark.skipif(not SHARED_SAMPLE.exists(), reason="../shared sample data absent")
def test_real_sample_reads() -> None:
    rows = read_contrastive(SHARED_SAMPLE / "train_data-sample.jsonl", min_negatives=5)
    pairs = read_preferences(SHARED_SAMPLE / "annotated_pair_data-sample.jsonl")
    assert len(rows) == 10 and all(r.positives for r in rows)
    assert len(pairs) == 100 and {p.preferred for p in pairs} == {"A", "B"}
    assert all(p.confidence_score is not None and p.response for p in pairs)
