"""The curriculum table and the choice of stage 2's starting checkpoint (by validation, not test)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from jobmatch.report.curriculum import best_checkpoint, curriculum_table, main
from jobmatch.report.curriculum_seeds import seed_roots, seeds_table


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


def _seed_round(root: Path, mode: str, rnd: int, per_jd: dict[str, list[float]]) -> dict:
    """A finished round of one seed whose evaluation wrote ``per_query.json`` (metric: values of JDs q0, q1, ...)."""
    round_dir = root / mode / f"round{rnd}"
    (round_dir / "eval").mkdir(parents=True)
    (round_dir / "eval" / "per_query.json").write_text(json.dumps(
        {metric: {f"q{i}": v for i, v in enumerate(values)} for metric, values in per_jd.items()}))
    metrics = {"bm25/ndcg@20": 0.4, "base/ndcg@20": 0.3} if rnd == 0 else {}
    return {"round": rnd, "checkpoint": str(round_dir / "train" / "checkpoints" / "best.ckpt"), "metrics": metrics}


def _fabricate_seeds(root: Path, shift: float, seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    """Per seed: round 0, then incremental = combined + ``shift`` on every test JD, OOD values equal."""
    rng = np.random.default_rng(0)
    for seed in seeds:
        base = rng.uniform(0.2, 0.7, size=20)
        r0 = _seed_round(root / f"seed{seed}", "incremental", 0, {"ndcg@20": base, "ood_ndcg@20": base})
        inc = _seed_round(root / f"seed{seed}", "incremental", 1,
                          {"ndcg@20": base + 0.1 + shift, "ood_ndcg@20": base + 0.05})
        comb = _seed_round(root / f"seed{seed}", "combined", 1, {"ndcg@20": base + 0.1, "ood_ndcg@20": base + 0.05})
        (root / f"seed{seed}" / "incremental" / "lineage.json").write_text(json.dumps([r0, inc]))
        (root / f"seed{seed}" / "combined" / "lineage.json").write_text(json.dumps([r0, comb]))


def test_seeds_table_gives_intervals_and_decides_only_a_real_difference(tmp_path: Path, capsys) -> None:
    _fabricate_seeds(tmp_path, shift=0.03)
    (tmp_path / "not-a-seed").mkdir()
    assert sorted(seed_roots(tmp_path)) == [0, 1, 2]
    table = seeds_table(tmp_path)
    lines = table.splitlines()
    row = next(line for line in lines if line.startswith("| incremental round 1 |"))
    mean, low, high = (float(x) for x in re.findall(r"\d\.\d{4}", row.split("|")[3]))
    assert row.split("|")[2].strip() == "3" and low < mean < high  # three seeds, an interval around the mean
    assert "| BM25 | — | 0.4000 |" in table
    assert [line.split("|")[1].strip() for line in lines if line.startswith("| ") and " round " in line][:3] == [
        "round 0", "incremental round 1", "combined round 1"]
    # a constant per-JD shift: estimate exact, interval of zero width, decided; equal OOD values: undecided
    versus = "| incremental round 1 − combined round 1 |"
    assert f"{versus} nDCG@20 | +0.0300 | [+0.0300, +0.0300] | 3 × 20 | yes |" in lines
    assert f"{versus} OOD nDCG@20 | +0.0000 | [+0.0000, +0.0000] | 3 × 20 | no |" in lines
    assert "| combined round 1 − round 0 | OOD nDCG@20 | +0.0500 | [+0.0500, +0.0500] | 3 × 20 | yes |" in lines
    assert "incremental round 1 above combined round 1 in nDCG@20 (+0.0300)" in table
    main([str(tmp_path)])  # the command picks the seeds table for a directory of seeds
    assert versus in capsys.readouterr().out


def test_seeds_table_undecided_without_a_difference_and_clear_without_seeds(tmp_path: Path) -> None:
    _fabricate_seeds(tmp_path / "runs", shift=0.0)
    assert "incremental vs combined: not told apart on either split." in seeds_table(tmp_path / "runs")
    with pytest.raises(FileNotFoundError, match="no seed<N>/ directory"):
        seeds_table(tmp_path)
