"""The sweep objective: plain metrics, and alignment penalised below a retention floor (hand-computed)."""

import pytest

from jobmatch.report.objective import alignment_with_retention_floor, objective_value, retention

RESULTS = {"test/alignment": 0.70, "test/ndcg@20": 0.43, "stage1/ndcg@20": 0.50, "val/alignment": 0.65}
CONSTRAINED = {"kind": "alignment_retention", "metric": "test/alignment", "retention_floor": 0.9, "penalty": 5.0}


def test_retention_is_the_share_of_stage1_ndcg_kept() -> None:
    assert retention(0.45, 0.5) == pytest.approx(0.9)
    assert retention(0.3, 0.0) == 1.0  # nothing to lose


def test_penalty_only_below_the_floor() -> None:
    assert alignment_with_retention_floor(0.7, 0.95) == 0.7
    assert alignment_with_retention_floor(0.7, 0.9) == 0.7
    # 0.70 - 5 * (0.90 - 0.86) = 0.70 - 0.20 = 0.50
    assert alignment_with_retention_floor(0.7, 0.86, floor=0.9, penalty=5.0) == pytest.approx(0.5)


def test_null_spec_returns_the_default_metric_or_none() -> None:
    assert objective_value(RESULTS, None, "val/alignment") == 0.65
    assert objective_value(RESULTS, None, "val/missing") is None
    assert objective_value({"x": float("nan")}, None, "x") is None
    assert objective_value(RESULTS, None, None) is None


def test_metric_kind_reads_the_named_metric() -> None:
    assert objective_value(RESULTS, {"kind": "metric", "metric": "test/ndcg@20"}) == 0.43


def test_alignment_retention_kind() -> None:
    # retention 0.43 / 0.50 = 0.86, below the floor by 0.04: 0.70 - 5 * 0.04 = 0.50
    assert objective_value(RESULTS, CONSTRAINED) == pytest.approx(0.5)
    kept = {**RESULTS, "test/ndcg@20": 0.48}  # retention 0.96: no penalty
    assert objective_value(kept, CONSTRAINED) == pytest.approx(0.7)


def test_missing_metric_and_unknown_kind_are_explained() -> None:
    with pytest.raises(ValueError, match="stage1/ndcg@20"):
        objective_value({"test/alignment": 0.7, "test/ndcg@20": 0.4}, CONSTRAINED)
    with pytest.raises(ValueError, match="not one of"):
        objective_value(RESULTS, {"kind": "pareto"})
