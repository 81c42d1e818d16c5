"""Retrieval metrics against ir-measures (trec_eval) and hand-computed reference variants."""

from __future__ import annotations

import ir_measures
import numpy as np
import pytest
from ir_measures import RR, R, nDCG

from jobmatch.retrieval.metrics import per_query_metrics, rank_documents, retrieval_metrics

CUTOFFS = (1, 3, 5, 10, 20)


def random_case(seed: int, ties: bool) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, int]]]:
    """A random run and qrels with every awkward case.

    Doc ids of different lengths (``d5`` vs ``d50``) exercise the tie order; graded relevance 0..2;
    relevant documents left unretrieved; a query judged only 0, one with empty qrels, one missing
    from the run, and a run query absent from qrels. With ``ties`` scores take 5 values.
    """
    rng = np.random.default_rng(seed)
    docs = [f"d{i}" for i in range(60)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in range(25):
        judged = rng.choice(docs, size=int(rng.integers(1, 12)), replace=False)
        qrels[f"q{q}"] = {str(d): int(rng.integers(0, 3)) for d in judged}
        retrieved = rng.choice(docs, size=int(rng.integers(1, 30)), replace=False)
        scores = rng.integers(0, 5, size=len(retrieved)) / 4 if ties else rng.random(len(retrieved))
        run[f"q{q}"] = {str(d): float(s) for d, s in zip(retrieved, scores, strict=True)}
        # relevant documents the run is sure to contain, at random ranks
        for d in list(qrels[f"q{q}"])[:2]:
            run[f"q{q}"][d] = float(rng.integers(0, 5) / 4 if ties else rng.random())
    qrels["q_zero"] = {"d1": 0, "d2": 0}
    run["q_zero"] = {"d1": 0.5, "d2": 0.4}
    qrels["q_empty"] = {}
    run["q_empty"] = {"d1": 0.5}
    qrels["q_unretrieved"] = {"d3": 1}
    run["q_not_judged"] = {"d3": 1.0}
    return run, qrels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_standard_metrics_match_ir_measures(seed: int, ties: bool) -> None:
    run, qrels = random_case(seed, ties)
    ours = retrieval_metrics(run, qrels, CUTOFFS)
    measures = [m @ k for k in CUTOFFS for m in (nDCG, R)]
    if not ties:  # ir-measures' RR@k (MS MARCO provider) breaks ties by doc id ascending, trec_eval descending
        measures += [RR @ k for k in CUTOFFS]
    theirs = ir_measures.calc_aggregate(measures, qrels, run)
    names = {"nDCG": "ndcg", "R": "recall", "RR": "mrr"}
    for measure, value in theirs.items():
        assert ours[f"{names[measure.NAME]}@{measure['cutoff']}"] == pytest.approx(value, abs=1e-6), measure


@pytest.mark.parametrize("seed", [0, 1])
def test_mrr_with_ties_is_trec_eval_recip_rank_cut_at_k(seed: int) -> None:
    """RR without cutoff comes from pytrec_eval (trec_eval's order); RR@k = RR if RR ≥ 1/k else 0."""
    run, qrels = random_case(seed, ties=True)
    rr = {m.query_id: m.value for m in ir_measures.iter_calc([RR], qrels, run)}
    ours = per_query_metrics(run, qrels, CUTOFFS, variants=False)
    for k in CUTOFFS:
        expected = np.array([rr[q] if rr[q] >= 1 / k - 1e-12 else 0.0 for q in ours.query_ids])
        np.testing.assert_allclose(ours.values[f"mrr@{k}"], expected, atol=1e-9)


def test_tie_order_is_trec_eval() -> None:
    """Score descending, then doc id descending: a9 > a10 > a as strings."""
    assert rank_documents({"a": 1.0, "a10": 1.0, "a9": 1.0, "b": 0.5}) == ["a9", "a10", "a", "b"]
    run, qrels = {"q": {"a": 1.0, "b": 1.0}}, {"q": {"a": 1}}
    ours = retrieval_metrics(run, qrels, (1,))
    theirs = ir_measures.calc_aggregate([nDCG @ 1, R @ 1], qrels, run)
    assert ours["ndcg@1"] == theirs[nDCG @ 1] == 0.0  # b ranks first
    assert ours["recall@1"] == theirs[R @ 1] == 0.0
    assert ours["mrr@1"] == 0.0


def test_queries_without_relevant_documents_count_as_zero() -> None:
    qrels = {"hit": {"a": 1}, "zero": {"a": 0}, "empty": {}, "absent": {"a": 1}}
    run = {"hit": {"a": 1.0}, "zero": {"a": 1.0}, "empty": {"a": 1.0}, "extra": {"a": 1.0}}
    ours = retrieval_metrics(run, qrels, (1, 5))
    theirs = ir_measures.calc_aggregate([nDCG @ 5, R @ 5, RR @ 5], qrels, run)
    assert ours["ndcg@5"] == ours["recall@5"] == ours["mrr@5"] == 0.25
    assert set(theirs.values()) == {0.25}
    assert ours["recall_capped@5"] == ours["ndcg_retrieved@5"] == 0.25


def test_reference_variants_by_hand() -> None:
    """qrels {a:2, b:1, c:1, d:1} (4 relevant); run ranks x(0), a(2), y(0), b(1); c, d unretrieved.

    k=2: top x,a; 1 hit. recall = 1/4 = 0.25; recall_capped = 1/min(2,4) = 0.5.
        DCG = 2/log2(3) = 1.261860. Retrieved ideal [2,0]: IDCG = 2 → ndcg_retrieved = 0.630930.
        Standard ideal [2,1]: 2 + 1/log2(3) = 2.630930 → ndcg = 0.479625.
    k=4: 2 hits. recall = 2/4 = 0.5; recall_capped = 2/min(4,4) = 0.5.
        DCG = 1.261860 + 1/log2(5) = 1.692536. Retrieved ideal [2,1,0,0]: 2.630930 → 0.643322.
        Standard ideal [2,1,1,1]: 2.630930 + 1/2 + 1/log2(5) = 3.561606 → ndcg = 0.475217.
    k=10: as k=4 (only 4 retrieved), recall_capped = 2/min(10,4) = 0.5.
    A second query with one relevant doc at rank 1: recall_capped@10 = 1/min(10,1) = 1, ndcg_retrieved = 1.
    A third with no relevant doc retrieved: both variants 0.
    """
    qrels = {"q": {"a": 2, "b": 1, "c": 1, "d": 1}, "one": {"a": 1}, "miss": {"z": 2}}
    run = {"q": {"x": 0.9, "a": 0.8, "y": 0.7, "b": 0.6}, "one": {"a": 0.3, "b": 0.2}, "miss": {"a": 0.9, "b": 0.8}}
    per_query = per_query_metrics(run, qrels, (2, 4, 10))
    got = {name: dict(zip(per_query.query_ids, values, strict=True)) for name, values in per_query.values.items()}
    expected_q = {
        "recall@2": 0.25, "recall_capped@2": 0.5, "ndcg_retrieved@2": 0.630930, "ndcg@2": 0.479625,
        "recall@4": 0.5, "recall_capped@4": 0.5, "ndcg_retrieved@4": 0.643322, "ndcg@4": 0.475217,
        "recall_capped@10": 0.5, "ndcg_retrieved@10": 0.643322,
    }  # fmt: skip
    for name, value in expected_q.items():
        assert got[name]["q"] == pytest.approx(value, abs=1e-6), name
    assert got["recall_capped@10"]["one"] == got["ndcg_retrieved@10"]["one"] == 1.0
    assert got["recall_capped@10"]["miss"] == got["ndcg_retrieved@10"]["miss"] == 0.0


def test_ndcg_retrieved_matches_sklearn_over_the_retrieved_list() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    run, qrels = random_case(3, ties=False)
    ours = per_query_metrics(run, qrels, (5, 10))
    for i, qid in enumerate(ours.query_ids):
        top = rank_documents(run.get(qid, {}), 10)
        for k in (5, 10):
            if len(top[:k]) < 2:
                continue
            rels = [[max(qrels[qid].get(d, 0), 0) for d in top[:k]]]
            scores = [[run[qid][d] for d in top[:k]]]
            expected = sklearn_metrics.ndcg_score(rels, scores, k=k)
            assert ours.values[f"ndcg_retrieved@{k}"][i] == pytest.approx(expected, abs=1e-9), (qid, k)


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="qrels is empty"):
        retrieval_metrics({"q": {"a": 1.0}}, {})
    with pytest.raises(ValueError, match="cutoffs"):
        retrieval_metrics({"q": {"a": 1.0}}, {"q": {"a": 1}}, (0, 5))
