"""The pipeline's summary: Δ with its paired interval, what stage 2 keeps and gains, the acceptance line."""

import numpy as np
import pytest

from jobmatch.report.pipeline_summary import pipeline_table, summary_lines
from jobmatch.retrieval.preference_eval import paired_delta_intervals

RESULTS = {"stage1/ndcg@20": 0.80, "test/ndcg@20": 0.76, "stage1/alignment": 0.60, "test/alignment": 0.73,
           "delta/ndcg@20": -0.04, "delta/alignment": 0.13, "annotate/test_pairs": 600,
           "delta/alignment_ci_low": 0.09, "delta/alignment_ci_high": 0.17}


def per_jd(values: np.ndarray, pairs: np.ndarray) -> dict[str, dict[str, float]]:
    jds = [f"jd-{i}" for i in range(len(values))]
    return {"ndcg@20": dict(zip(jds, values.tolist(), strict=True)),
            "alignment": dict(zip(jds, values.tolist(), strict=True)),
            "n_pairs": dict(zip(jds, pairs.tolist(), strict=True))}


def test_paired_interval_of_a_constant_shift_is_that_shift() -> None:
    base = np.random.default_rng(0).uniform(0.3, 0.9, size=30)
    keys = paired_delta_intervals(per_jd(base + 0.05, np.full(30, 20.0)), per_jd(base, np.full(30, 20.0)))
    for metric in ("ndcg@20", "alignment"):
        assert keys[f"delta/{metric}_ci_low"] == pytest.approx(0.05)
        assert keys[f"delta/{metric}_ci_high"] == pytest.approx(0.05)
    assert "delta/alignment_intent_ci_low" not in keys  # no intent values: no interval


def test_paired_interval_weights_alignment_by_pairs_and_covers_the_difference() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0.3, 0.9, size=40)
    shift = rng.normal(0.05, 0.1, size=40)
    pairs = rng.integers(1, 30, size=40).astype(float)
    keys = paired_delta_intervals(per_jd(base + shift, pairs), per_jd(base, pairs))
    weighted, plain = float(shift @ pairs / pairs.sum()), float(shift.mean())
    assert keys["delta/alignment_ci_low"] < weighted < keys["delta/alignment_ci_high"]
    assert keys["delta/ndcg@20_ci_low"] < plain < keys["delta/ndcg@20_ci_high"]
    assert keys["delta/alignment_ci_low"] != keys["delta/ndcg@20_ci_low"]  # the weights matter


def test_table_shows_the_delta_with_its_interval() -> None:
    row = next(line for line in pipeline_table(RESULTS, "rankpo").splitlines() if line.startswith("| Δ"))
    assert "+0.1300 [+0.0900, +0.1700]" in row and "-0.0400 |" in row  # no interval written: none shown


@pytest.mark.parametrize(("lines", "verdicts"), [
    ({"alignment_gain": 0.12, "ndcg_kept": 0.93}, ["met (margin +0.0100)", "met (margin +2.0 points)"]),
    ({"alignment_gain": 0.15, "ndcg_kept": 0.96}, ["not met (margin -0.0200)", "not met (margin -1.0 points)"]),
])
def test_summary_checks_the_acceptance_line(lines: dict[str, float], verdicts: list[str]) -> None:
    text = "\n".join(summary_lines(RESULTS, "rankpo", lines))
    assert "rankpo keeps 95.0% of stage-1 test nDCG@20" in text and "[+0.0900, +0.1700]" in text
    assert "on 600 judged test pairs" in text
    for verdict in verdicts:
        assert verdict in text


def test_a_decided_gain_is_one_whose_paired_interval_lies_above_zero() -> None:
    decided = "\n".join(summary_lines(RESULTS, "rankpo", {"alignment_decided": True, "ndcg_kept": 0.90}))
    assert "alignment gain decided (paired 95% CI above 0; lower bound +0.0900): met" in decided
    assert "nDCG@20 kept 95.0% vs ≥ 90%: met" in decided
    covering = {**RESULTS, "delta/alignment_ci_low": -0.01}
    undecided = "\n".join(summary_lines(covering, "rankpo", {"alignment_decided": True}))
    assert "lower bound -0.0100): not met" in undecided


def test_summary_without_a_line_or_without_stage_1() -> None:
    assert not any("Acceptance" in line for line in summary_lines(RESULTS, "rankpo"))
    assert summary_lines({"test/ndcg@20": 0.7}, "rankpo") == []
