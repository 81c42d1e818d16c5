"""The curriculum table and the choice of stage 2's starting checkpoint (by validation, not test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobmatch.report.curriculum import best_checkpoint, curriculum_table, main


def _round(root: Path, mode: str, rnd: int, val: float, test: float) -> dict:
    ckpt = root / mode / f"round{rnd}" / "train" / "checkpoints" / "best.ckpt"
    ckpt.parent.mkdir(parents=True)
    (ckpt.parent.parent / "results.json").write_text(json.dumps({"checkpoint/best_score": val}))
    metrics = {"test/ndcg@20": test, "test/mrr@10": test, "test/recall@100": 0.9, "test_ood/ndcg@20": test / 2}
    if rnd == 0:
        metrics |= {"bm25/ndcg@20": 0.4, "base/ndcg@20": 0.3}
    return {"round": rnd, "checkpoint": str(ckpt), "metrics": metrics}


def _fabricate(root: Path) -> None:
    rounds = {
        "incremental": [(0, 0.50, 0.55), (1, 0.70, 0.60), (2, 0.65, 0.90)],
        "combined": [(0, 0.50, 0.55), (1, 0.60, 0.62)],
    }
    for mode, specs in rounds.items():
        lineage = [_round(root, mode, *spec) for spec in specs]
        (root / mode / "lineage.json").write_text(json.dumps(lineage))


def test_best_checkpoint_uses_validation_not_test(tmp_path: Path) -> None:
    _fabricate(tmp_path)
    # incremental round 2 has the best test score but round 1 the best validation score
    assert best_checkpoint(tmp_path) == tmp_path / "incremental/round1/train/checkpoints/best.ckpt"


def test_best_checkpoint_without_finished_rounds_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no finished curriculum round"):
        best_checkpoint(tmp_path)


def test_table_rows_and_missing_curriculum(tmp_path: Path, capsys) -> None:
    _fabricate(tmp_path)
    table = curriculum_table(tmp_path)
    assert "| BM25 | 0.4000 |" in table and "| untrained MiniLM | 0.3000 |" in table
    assert "| incremental round 2 | 0.9000 |" in table and "| combined round 1 | 0.6200 |" in table
    (tmp_path / "combined" / "lineage.json").unlink()
    assert "| combined | missing |" in curriculum_table(tmp_path)
    main(["--best-checkpoint", str(tmp_path)])
    assert capsys.readouterr().out.strip().endswith("incremental/round1/train/checkpoints/best.ckpt")


def test_table_reports_the_ood_split_beside_the_test_split(tmp_path: Path) -> None:
    _fabricate(tmp_path)
    lines = curriculum_table(tmp_path).splitlines()
    assert lines[0].endswith("| OOD nDCG@20 | OOD Recall@100 |")
    assert "| incremental round 2 | 0.9000 | 0.9000 | 0.9000 | 0.4500 | — |" in lines
    assert next(line for line in lines if line.startswith("| BM25 |")).endswith("| — | — |")
