"""The active-annotation budget curve report (experiments/active_annotation/curve.py) on fabricated runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.active_annotation.curve import collect, curve_table, main
from jobmatch.errors import UserError

JDS = ("j1", "j2", "j3")


def fake(out: Path, sampler: str, ppq: int, seed: int, align: tuple[float, float, float]) -> None:
    run = out / f"{sampler}-ppq{ppq}-seed{seed}"
    run.mkdir(parents=True)
    mean = sum(align) / 3
    (run / "results.json").write_text(json.dumps({"test/alignment": mean, "test/ndcg@20": 0.45,
                                                  "stage1/ndcg@20": 0.5, "delta/alignment": mean - 0.6}))
    per_jd = {"alignment": dict(zip(JDS, align, strict=True)), "n_pairs": dict.fromkeys(JDS, 20.0),
              "ndcg@20": dict.fromkeys(JDS, 0.45)}
    (run / "per_query.json").write_text(json.dumps({"test": per_jd, "stage1": per_jd}))
    notes = out / "annotate" / run.name
    notes.mkdir(parents=True)
    (notes / "results.json").write_text(json.dumps({"annotate/train_pairs": 240 * ppq,
                                                    "annotate/train_judge_calls": 240 * ppq,
                                                    "annotate/judge_calls": 240 * ppq + 1200}))


def test_curve_pairs_each_sampler_with_uniform(tmp_path: Path) -> None:
    for seed in (0, 1):
        fake(tmp_path, "uniform", 1, seed, (0.62, 0.64, 0.66))
        fake(tmp_path, "uniform", 10, seed, (0.70, 0.70, 0.70))
        fake(tmp_path, "uncertainty", 5, seed, (0.70, 0.71, 0.70))
    (tmp_path / "unrelated").mkdir()
    points = collect(tmp_path)
    assert len(points) == 6
    table = curve_table(points)
    rows = {line.split(" | ")[0].strip("| ") + line.split(" | ")[1]: line for line in table.splitlines()[2:]}
    # uniform at 1 pair/JD: 0.64 vs 0.70 at 10, every JD lower: decided worse
    assert "-0.0600 [-0.0800, -0.0400] does not match" in rows["uniform1"]
    # uncertainty at 5 pairs/JD: as uniform at 10 within the margin (every JD at least as high)
    assert "+0.0033 [+0.0000, +0.0100] matches" in rows["uncertainty5"]
    assert "| 1200 | 2400 |" in rows["uncertainty5"]  # judged training pairs, judge calls in all
    # calls per point of alignment gain: 2400 calls / (100 · 0.10)
    assert rows["uniform10"].endswith("| 240.0000 ± 0.0000 |")
    main([str(tmp_path)])
    assert (tmp_path / "curve.md").exists() and (tmp_path / "curve.png").stat().st_size > 1000


def test_curve_refuses_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no finished"):
        main([str(tmp_path)])
