"""Fairness measures: exact top lists and ranks, counterfactual shifts and selection rates on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest

from jobmatch.retrieval.fairness import (
    bootstrap_over_queries,
    counterfactual_shift,
    group_codes,
    relevant_group_counts,
    selection_rates,
    top_group_counts,
)
from jobmatch.retrieval.topk import ranks_of, top_k


def as_embeddings(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(JDs [Q, Q], talents [N, Q]) whose inner products are ``scores`` [Q, N] exactly."""
    return np.eye(len(scores), dtype=np.float32), np.ascontiguousarray(scores.T, dtype=np.float32)


def shift_of(scores: np.ndarray, cf: np.ndarray, *, depth: int, k: int) -> dict[str, np.ndarray]:
    """:func:`counterfactual_shift` of two score matrices, through the top list and the counterfactual ranks."""
    queries, corpus = as_embeddings(scores)
    top_scores, top_rows = top_k(queries, corpus, max(depth, k))
    cf_ranks, cf_scores = ranks_of(queries, as_embeddings(cf)[1], top_rows)
    return counterfactual_shift(top_scores, cf_ranks, cf_scores, depth=depth, k=k)


def test_top_lists_and_ranks_best_first_ties_by_index() -> None:
    queries, corpus = as_embeddings(np.array([[0.9, 0.1, 0.5, 0.5], [0.2, 0.2, 0.2, 0.7]]))
    scores, rows = top_k(queries, corpus, 3)
    assert rows.tolist() == [[0, 2, 3], [3, 0, 1]]  # the tie at the cut keeps the lower index
    np.testing.assert_allclose(scores, [[0.9, 0.5, 0.5], [0.7, 0.2, 0.2]])
    ranks, _ = ranks_of(queries, corpus, np.array([[1, 3], [2, 0]]))
    assert ranks.tolist() == [[3, 2], [3, 1]]


@pytest.mark.parametrize("chunk", [4, 60, None])  # one JD per chunk of scores, several, all
def test_top_lists_and_ranks_equal_a_full_stable_sort(chunk: int | None) -> None:
    rng = np.random.default_rng(0)
    queries = rng.integers(-2, 3, size=(7, 4)).astype(np.float32)  # small integers: exact scores, many ties
    corpus = rng.integers(-2, 3, size=(15, 4)).astype(np.float32)
    order = np.argsort(-(queries @ corpus.T), axis=1, kind="stable")  # [Q, N]
    _, rows = top_k(queries, corpus, 6, chunk_scores=chunk)
    np.testing.assert_array_equal(rows, order[:, :6])
    asked = rng.permuted(np.tile(np.arange(15), (7, 1)), axis=1)[:, :5]  # [Q, 5] any talents
    ranks, _ = ranks_of(queries, corpus, asked, chunk_scores=chunk)
    np.testing.assert_array_equal(ranks, np.argsort(order, axis=1)[np.arange(7)[:, None], asked])


def test_a_model_that_ignores_the_swap_shows_no_change() -> None:
    scores = np.random.default_rng(0).normal(size=(5, 30))
    shift = shift_of(scores, scores.copy(), depth=10, k=5)
    assert all(np.all(v == 0) for v in shift.values())


def test_swapping_the_two_best_talents() -> None:
    """Factual ranks: t0 0, t2 1, t3 2, t1 3; counterfactual: t1 0, t2 1, t3 2, t0 3.

    |Δ rank| over the top 4: (3 + 3 + 0 + 0) / 4 = 1.5; top-2 {t0, t2} → {t1, t2}: 1 of 2 left;
    Δ score over the top 4: (-0.8 + 0.8 + 0 + 0) / 4 = 0 signed, 1.6 / 4 = 0.4 absolute.
    """
    scores = np.array([[0.9, 0.1, 0.5, 0.3]])
    cf = np.array([[0.1, 0.9, 0.5, 0.3]])
    shift = shift_of(scores, cf, depth=4, k=2)
    assert shift["abs_rank_shift"].tolist() == [1.5]
    assert shift["topk_change"].tolist() == [0.5]
    np.testing.assert_allclose(shift["score_shift"], [0.0], atol=1e-12)
    np.testing.assert_allclose(shift["abs_score_shift"], [0.4], rtol=1e-6)


def group_counts(scores: np.ndarray, groups: list[str], *, k: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(group names, top-k counts [Q, G], relevant counts [Q, G]) with every talent relevant to every JD."""
    names, codes = group_codes(groups)
    _, rows = top_k(*as_embeddings(scores), k)
    every = [np.arange(scores.shape[1])] * len(scores)
    return names, top_group_counts(rows, codes, len(names), k=k), relevant_group_counts(every, codes, len(names))


def test_selection_rates_and_impact_ratio() -> None:
    """Two JDs, groups a, a, b, b; every talent relevant (share 1/2 each).

    Top-1: JD0 picks t0 (a), JD1 picks t1 (a): a takes 2 of 2 slots → rate (2/2)/(1/2) = 2, b 0;
    impact ratios 1 and 0.
    """
    scores = np.array([[0.9, 0.2, 0.1, 0.0], [0.2, 0.9, 0.1, 0.0]])
    names, top, rel = group_counts(scores, ["a", "a", "b", "b"], k=1)
    assert names == ["a", "b"] and top.tolist() == [[1, 0], [1, 0]] and rel.tolist() == [[2, 2], [2, 2]]
    rate, impact = selection_rates(top, rel)
    assert rate.tolist() == [2.0, 0.0] and impact.tolist() == [1.0, 0.0]


def test_parity_gives_impact_ratio_one() -> None:
    scores = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.0, 0.9, 0.8]])
    _, top, rel = group_counts(scores, ["a", "b", "a", "b"], k=2)
    rate, impact = selection_rates(top, rel)
    assert rate.tolist() == [1.0, 1.0] and impact.tolist() == [1.0, 1.0]


def test_bootstrap_over_queries_brackets_the_mean() -> None:
    values = np.random.default_rng(1).normal(0.3, 0.1, size=400)
    low, high = bootstrap_over_queries(lambda idx: np.array([values[idx].mean()]), len(values), n_bootstrap=300)
    assert low[0] < values.mean() < high[0] and high[0] - low[0] < 0.05
