"""Tiling a market N times: unique ids, texts kept, each row referring to its own tile, streamed files
whose manifest matches them, and the command line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from jobmatch.data.synthetic.tile import main, tile_id, tile_market
from jobmatch.errors import UserError

CORPUS = [
    {"id": "talent-00000", "text": "Name: A B (she/her)\nProfessor <keyword>x</keyword>", "gender": "female"},
    {"id": "talent-00001", "text": "Postdoc in Zürich, \"quoted\"\n<keyword>y</keyword>"},
    {"id": 'odd "id"', "text": "a profile whose id needs JSON escapes"},
]
ROWS = {
    "train.jsonl": [
        {"query_id": "jd-00000", "query": "JD zero", "positive_ids": ["talent-00000"], "negative_ids": ['odd "id"']},
        {"query_id": "jd-00001", "query": "JD one", "positive_ids": ["talent-00001"], "negative_ids": ["talent-00000"]},
    ],
    "test.jsonl": [  # the reference format: texts inline, plus ids
        {"query": "JD two", "positives": [CORPUS[1]["text"]], "negatives": [CORPUS[0]["text"]],
         "query_id": "jd-00002", "positive_ids": ["talent-00001"], "negative_ids": ["talent-00000"]},
    ],
}


def _write(directory: Path, name: str, rows: list[dict[str, object]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def market(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    _write(src, "corpus.jsonl", CORPUS)
    for name, rows in ROWS.items():
        _write(src, name, rows)
    return src


def _read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_tiles_rename_ids_keep_texts_and_refer_to_their_own_tile(market: Path, tmp_path: Path) -> None:
    out = tile_market(market, 3, tmp_path / "tiled")
    corpus = _read(out / "corpus.jsonl")
    assert [r["id"] for r in corpus] == [tile_id(str(r["id"]), k) for k in range(3) for r in CORPUS]
    assert len({r["id"] for r in corpus}) == 9
    assert [r["text"] for r in corpus] == [r["text"] for _ in range(3) for r in CORPUS]
    assert corpus[3]["gender"] == "female" and corpus[0] == CORPUS[0]  # tile 0 is the source
    ids = {r["id"] for r in corpus}
    for name, source_rows in ROWS.items():
        rows = _read(out / name)
        assert len(rows) == 3 * len(source_rows)
        for k in range(3):
            for row, source in zip(rows[k * len(source_rows) : (k + 1) * len(source_rows)], source_rows, strict=True):
                assert row["query_id"] == tile_id(str(source["query_id"]), k)
                for key in ("positive_ids", "negative_ids"):
                    assert row[key] == [tile_id(i, k) for i in source[key]] and set(row[key]) <= ids
                assert {key: v for key, v in row.items() if not key.endswith("_id") and not key.endswith("_ids")} == {
                    key: v for key, v in source.items() if not key.endswith("_id") and not key.endswith("_ids")
                }  # texts kept
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["times"] == 3 and manifest["generator"] == "jobmatch.data.synthetic.tile"
    for name, info in manifest["files"].items():
        data = (out / name).read_bytes()
        assert info["bytes"] == len(data) and info["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["files"]["corpus.jsonl"]["rows"] == 9 and "unlabelled" in (out / "dataset_card.md").read_text()


def test_refuses_bad_arguments_and_leaves_nothing(market: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--times"):
        tile_market(market, 0, tmp_path / "a")
    with pytest.raises(UserError, match=r"no corpus\.jsonl"):
        tile_market(tmp_path / "missing", 2, tmp_path / "b")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        tile_market(market, 2, tmp_path / "full")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "src"]


def test_command_line(market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--src", str(market), "--times", "2", "--out", str(tmp_path / "cli")]) == 0
    assert "(6 talents)" in capsys.readouterr().out
    assert main(["--src", str(market), "--times", "2", "--out", str(tmp_path / "cli")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
