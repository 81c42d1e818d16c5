"""Text that is not UTF-8: a ``FILE:LINE`` error naming the byte, or a skipped and counted line."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobmatch.cli.errors import user_errors
from jobmatch.data.readers import DataFormatError, read_contrastive, read_corpus_lines, read_preferences
from jobmatch.serving.ranking import read_jds
from jobmatch.serving.talents import read_talents
from tests.helpers import ROOT

ROW = {"query": "Postdoc in Zürich", "positives": ["p1"], "negatives": ["n1"]}
PAIR = {"query": "JD", "passage1": "a", "passage2": "b", "preferred": "A"}
LATIN1 = "Postdoc à Genève".encode("latin-1")  # é is 0xE9 in Latin-1, invalid alone in UTF-8


def write_bytes(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def good(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def bad(obj: dict) -> bytes:
    return json.dumps({**obj, "query": "Postdoc à Genève"}, ensure_ascii=False).encode("latin-1")


@pytest.mark.parametrize(("read", "obj"), [(read_contrastive, ROW), (read_preferences, PAIR)])
def test_non_utf8_line_names_file_line_and_byte(tmp_path: Path, read, obj: dict) -> None:  # type: ignore[no-untyped-def]
    path = write_bytes(tmp_path / "data.jsonl", [good(obj), good(obj), bad(obj)])
    with pytest.raises(DataFormatError) as err:
        read(path)
    assert (err.value.path, err.value.line) == (str(path), 3)
    assert str(err.value).startswith(f"{path}:3: not valid UTF-8 (byte 0xE0 at column ")
    assert "; save the file as UTF-8" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("read", "obj"), [(read_contrastive, ROW), (read_preferences, PAIR)])
def test_on_error_skip_skips_and_counts_a_non_utf8_line(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    read,
    obj: dict,  # type: ignore[no-untyped-def]
) -> None:
    path = write_bytes(tmp_path / "data.jsonl", [good(obj), bad(obj), good(obj)])
    with caplog.at_level(logging.WARNING):
        records = read(path, on_error="skip")
    assert len(records) == 2 and records[0].query == obj["query"]
    assert f"{path}:2: not valid UTF-8" in caplog.text
    assert "skipped 1 bad line(s), kept 2" in caplog.text


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "bom.jsonl", [b"\xef\xbb\xbf" + good(ROW), good(ROW)])
    assert [r.query for r in read_contrastive(path)] == [ROW["query"]] * 2


def test_corpus_line_not_utf8(tmp_path: Path) -> None:
    path = write_bytes(
        tmp_path / "corpus.jsonl", [good({"id": "t1", "text": "a"}), '{"id": "t2", "text": "é"}'.encode("latin-1")]
    )
    with pytest.raises(DataFormatError, match=r"corpus\.jsonl:2: not valid UTF-8 \(byte 0xE9 at column 23\)"):
        read_corpus_lines(path)


@pytest.mark.parametrize(
    ("lines", "where"),
    [
        (
            [good({"id": "t1", "text": "a"}), '{"id": "t2", "text": "é"}'.encode("latin-1")],
            ":2: (byte 0xE9 at column 23)",
        ),
        ([bad(ROW), good(ROW)], ":1: (byte 0xE0 at column 20)"),  # the contrastive format, bad from its first line
    ],
    ids=["id-text", "contrastive"],
)
def test_index_talent_file_not_utf8_is_a_one_line_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[bytes], where: str
) -> None:
    path = write_bytes(tmp_path / "talents.jsonl", lines)
    with pytest.raises(SystemExit) as exit_, user_errors():
        read_talents(path)
    assert exit_.value.code == 2
    line, byte = where.split(" ", 1)
    expected = f"error: {path}{line} not valid UTF-8 {byte}; save the file as UTF-8"
    messages = capsys.readouterr().err.strip().splitlines()
    assert len(messages) == 1 and messages[0].startswith(expected), messages


def test_rank_jd_file_not_utf8(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "jds.txt", [b"Postdoc in Oslo", LATIN1])
    with pytest.raises(DataFormatError, match=r"jds\.txt:2: not valid UTF-8 \(byte 0xE0 at column 9\); save"):
        read_jds(str(path))


@pytest.mark.slow
def test_rank_cli_on_a_non_utf8_jd_file_prints_one_line(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "jds.txt", [LATIN1])
    done = subprocess.run(
        [sys.executable, "-m", "jobmatch.rank", f"index={tmp_path / 'none'}", f"jd={path}"],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and f"{path}:1: not valid UTF-8 (byte 0xE0 at column 9)" in errors[0]
