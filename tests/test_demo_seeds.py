"""experiments/demo/seeds.py: per-seed rows and paired means of stage-2 runs against stage 1 and each other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.demo import seeds


def write_run(folder: Path, test: dict[str, float], stage1: dict[str, float]) -> str:
    """A run directory whose per_query.json holds per-JD values for two JDs (j1 with 3 pairs, j2 with 1)."""
    folder.mkdir(parents=True)

    def values(v: dict[str, float]) -> dict[str, dict[str, float]]:
        return {"ndcg@20": {"j1": v["ndcg"], "j2": v["ndcg"] / 2}, "alignment": {"j1": v["align"], "j2": 0.0},
                "alignment_intent": {"j1": 0.5, "j2": 0.5}, "ood_ndcg@20": {"o1": v["ndcg"]},
                "n_pairs": {"j1": 3.0, "j2": 1.0}}

    (folder / "per_query.json").write_text(json.dumps({"test": values(test), "stage1": values(stage1)}))
    return str(folder)


def test_alignment_is_the_pair_share_and_the_mean_differences_pair_by_seed(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    base = {"ndcg": 0.8, "align": 0.5}
    a = [f"{s}={write_run(tmp_path / f'a{s}', {'ndcg': n, 'align': 1.0}, base)}" for s, n in ((1, 0.6), (2, 0.8))]
    b = [f"{s}={write_run(tmp_path / f'b{s}', {'ndcg': 0.8, 'align': 0.5}, base)}" for s in (1, 2)]
    seeds.main(["--runs", *a, "--against", *b, "--names", "new", "old"])
    out = capsys.readouterr().out
    # seed 1: nDCG (0.6 + 0.3) / 2 = 0.45 against 0.6 (75.0% kept); alignment (3 * 1.0 + 0) / 4 = 0.75
    assert "| 1 | 0.4500 (75.0%) | 0.7500 | +0.3750 |" in out
    assert "| 2 | 0.6000 (100.0%) | 0.7500 | +0.3750 |" in out
    # the mean over seeds: nDCG (0.45 + 0.6) / 2 = 0.525 against 0.6 (87.5% kept), Δ −0.075
    assert "| mean, Δ vs stage 1 (95% CI over 2 seeds and the test JDs) | -0.0750 [" in out
    assert "(87.5% kept)" in out
    # new − old on alignment: per JD j1 +0.5 (3 pairs), j2 0 (1 pair) -> +0.375, in both seeds: decided
    assert "| alignment | +0.3750 [" in out
