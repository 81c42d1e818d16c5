"""Fairness measures: counterfactual shifts and selection rates on hand-made scores."""

from __future__ import annotations

import numpy as np

from jobmatch.retrieval.fairness import (
    bootstrap_over_queries,
    counterfactual_shift,
    group_counts,
    ranks,
    selection_rates,
)


def test_ranks_best_first_ties_by_index() -> None:
    assert ranks(np.array([[0.9, 0.1, 0.5, 0.5]])).tolist() == [[0, 3, 1, 2]]


def test_a_model_that_ignores_the_swap_shows_no_change() -> None:
    scores = np.random.default_rng(0).normal(size=(5, 30))
    shift = counterfactual_shift(scores, scores.copy(), depth=10, k=5)
    assert all(np.all(v == 0) for v in shift.values())


def test_swapping_the_two_best_talents() -> None:
    """Factual ranks: t0 0, t2 1, t3 2, t1 3; counterfactual: t1 0, t2 1, t3 2, t0 3.

    |Δ rank| over the top 4: (3 + 3 + 0 + 0) / 4 = 1.5; top-2 {t0, t2} → {t1, t2}: 1 of 2 left;
    Δ score over the top 4: (-0.8 + 0.8 + 0 + 0) / 4 = 0 signed, 1.6 / 4 = 0.4 absolute.
    """
    scores = np.array([[0.9, 0.1, 0.5, 0.3]])
    cf = np.array([[0.1, 0.9, 0.5, 0.3]])
    shift = counterfactual_shift(scores, cf, depth=4, k=2)
    assert shift["abs_rank_shift"].tolist() == [1.5]
    assert shift["topk_change"].tolist() == [0.5]
    np.testing.assert_allclose(shift["score_shift"], [0.0], atol=1e-12)
    np.testing.assert_allclose(shift["abs_score_shift"], [0.4])


def test_selection_rates_and_impact_ratio() -> None:
    """Two JDs, groups a, a, b, b; every talent relevant (share 1/2 each).

    Top-1: JD0 picks t0 (a), JD1 picks t1 (a): a takes 2 of 2 slots → rate (2/2)/(1/2) = 2, b 0;
    impact ratios 1 and 0.
    """
    scores = np.array([[0.9, 0.2, 0.1, 0.0], [0.2, 0.9, 0.1, 0.0]])
    names, top, rel = group_counts(scores, ["a", "a", "b", "b"], np.ones((2, 4), bool), k=1)
    assert names == ["a", "b"] and top.tolist() == [[1, 0], [1, 0]] and rel.tolist() == [[2, 2], [2, 2]]
    rate, impact = selection_rates(top, rel)
    assert rate.tolist() == [2.0, 0.0] and impact.tolist() == [1.0, 0.0]


def test_parity_gives_impact_ratio_one() -> None:
    scores = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.0, 0.9, 0.8]])
    _, top, rel = group_counts(scores, ["a", "b", "a", "b"], np.ones((2, 4), bool), k=2)
    rate, impact = selection_rates(top, rel)
    assert rate.tolist() == [1.0, 1.0] and impact.tolist() == [1.0, 1.0]


def test_bootstrap_over_queries_brackets_the_mean() -> None:
    values = np.random.default_rng(1).normal(0.3, 0.1, size=400)
    low, high = bootstrap_over_queries(lambda idx: np.array([values[idx].mean()]), len(values), n_bootstrap=300)
    assert low[0] < values.mean() < high[0] and high[0] - low[0] < 0.05
