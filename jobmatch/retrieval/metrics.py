"""Retrieval metrics with trec_eval semantics (docs/design.md §1, *retention*).

Standard names follow trec_eval as ``ir-measures`` computes it (verified in
``tests/test_retrieval_metrics.py``):

- ``ndcg@k``: trec_eval's ``ndcg_cut.k``: gain = relevance (graded, linear), discount 1/log2(rank+1);
  the ideal DCG ranks **all** relevant documents of the query (from qrels), cut at k.
- ``recall@k``: relevant documents in the top k / all relevant documents of the query.
- ``mrr@k``: 1/rank of the first relevant document if it lies in the top k, else 0 (``RR@k``).

Conventions (those of ir-measures, which averages over the query ids of qrels):

- every query of ``qrels`` counts in the mean, also one without relevant documents (empty, or judged
  only 0): it scores 0 on every metric. A query of qrels missing from the run scores 0; queries of
  the run missing from qrels are ignored. Relevant means relevance > 0; negative relevance gains 0.
- ranking: score descending, ties by doc id descending (trec_eval's order; ``"a9"`` before
  ``"a10"`` before ``"a"``). ir-measures computes ``RR@k`` with its MS MARCO provider, which breaks
  ties by doc id *ascending*; ``mrr@k`` here keeps trec_eval's order for every metric, so it equals
  ir-measures' ``RR@k`` on runs without tied scores and trec_eval's ``recip_rank`` cut at k always.

The reference code's variants, under their own names, only to compare with the paper:

- ``recall_capped@k``: hits in the top k / min(k, #relevant) (0 without relevant documents).
- ``ndcg_retrieved@k``: nDCG whose ideal DCG re-sorts only the retrieved top-k list by relevance,
  ``sklearn.metrics.ndcg_score([rels of the top k], [their scores], k=k)`` — relevant documents that
  were not retrieved do not lower it. It is 0 when no relevant document is retrieved, as in sklearn.
  With tied scores sklearn (``ignore_ties=False``) averages gains over each tie group; here the
  trec_eval order is used instead (sklearn's ``ignore_ties=True``). At k = 1 it is 1 if the top
  document is relevant, else 0 (sklearn refuses single-document lists).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

STANDARD = ("mrr", "recall", "ndcg")
VARIANTS = ("recall_capped", "ndcg_retrieved")

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class PerQueryMetrics:
    """Per-query metric values, aligned with ``query_ids`` (for means and bootstrap intervals).

    Attributes:
        query_ids: the Q query ids of qrels, in qrels' order.
        values: ``{"ndcg@10": [Q] float64, ...}``.
    """

    query_ids: list[str]
    values: dict[str, np.ndarray]

    def mean(self) -> dict[str, float]:
        """Metric means over all queries (the aggregate that ir-measures reports)."""
        return {name: float(v.mean()) for name, v in self.values.items()}


def rank_documents(scores: Mapping[str, float], depth: int | None = None) -> list[str]:
    """Doc ids by score descending, ties by doc id descending (trec_eval's order), the first ``depth``."""
    ranked = sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)
    return [doc for doc, _ in ranked[:depth]]


def _gain_matrices(run: Run, qrels: Qrels, query_ids: list[str], depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Gains of the ranked run and of the ideal ranking, zero-padded.

    Returns:
        ranked: [Q, depth] relevance (clipped at 0) of each query's top ``depth`` run documents.
        ideal: [Q, depth] the query's relevant grades from qrels, sorted descending.
    """
    ranked = np.zeros((len(query_ids), depth))
    ideal = np.zeros((len(query_ids), depth))
    for i, qid in enumerate(query_ids):
        judged = qrels[qid]
        top = rank_documents(run.get(qid, {}), depth)
        ranked[i, : len(top)] = [judged.get(doc, 0) for doc in top]
        grades = sorted((rel for rel in judged.values() if rel > 0), reverse=True)[:depth]
        ideal[i, : len(grades)] = grades
    return np.clip(ranked, 0, None), ideal


def per_query_metrics(
    run: Run,
    qrels: Qrels,
    cutoffs: Sequence[int] = (1, 5, 10, 20, 100),
    *,
    variants: bool = True,
) -> PerQueryMetrics:
    """Per-query ``mrr@k``, ``recall@k``, ``ndcg@k`` (and the reference variants) for every k.

    Args:
        run: ``{query_id: {doc_id: score}}``; higher scores rank first.
        qrels: ``{query_id: {doc_id: relevance}}``; its query ids define the evaluated queries.
        cutoffs: the k values, each ≥ 1.
        variants: also compute ``recall_capped@k`` and ``ndcg_retrieved@k`` (see the module docstring).
    Returns:
        A :class:`PerQueryMetrics` with one [Q] array per metric name.
    """
    if not qrels:
        raise ValueError("qrels is empty: there is no query to evaluate")
    if not cutoffs or min(cutoffs) < 1:
        raise ValueError(f"cutoffs must be a non-empty sequence of integers >= 1, got {cutoffs}")
    query_ids = list(qrels)
    depth = max(cutoffs)
    ranked, ideal = _gain_matrices(run, qrels, query_ids, depth)  # [Q, depth] each
    discount = 1.0 / np.log2(np.arange(2, depth + 2))  # [depth]: 1/log2(rank+1)
    hits = np.cumsum(ranked > 0, axis=1)  # [Q, depth]: relevant docs within the top r
    dcg = np.cumsum(ranked * discount, axis=1)  # [Q, depth]
    idcg = np.cumsum(ideal * discount, axis=1)  # [Q, depth]
    n_relevant = np.array([sum(rel > 0 for rel in qrels[q].values()) for q in query_ids])  # [Q]
    first_hit = np.where(hits[:, -1] > 0, np.argmax(ranked > 0, axis=1) + 1, np.inf)  # [Q] rank, inf if none

    values: dict[str, np.ndarray] = {}
    for k in cutoffs:
        values[f"mrr@{k}"] = np.where(first_hit <= k, 1.0 / first_hit, 0.0)
        values[f"recall@{k}"] = _safe_divide(hits[:, k - 1], n_relevant)
        values[f"ndcg@{k}"] = _safe_divide(dcg[:, k - 1], idcg[:, k - 1])
        if variants:
            values[f"recall_capped@{k}"] = _safe_divide(hits[:, k - 1], np.minimum(k, n_relevant))
            retrieved_ideal = -np.sort(-ranked[:, :k], axis=1)  # [Q, k]: the top k re-sorted by relevance
            values[f"ndcg_retrieved@{k}"] = _safe_divide(dcg[:, k - 1], retrieved_ideal @ discount[:k])
    return PerQueryMetrics(query_ids=query_ids, values=values)


def retrieval_metrics(
    run: Run,
    qrels: Qrels,
    cutoffs: Sequence[int] = (1, 5, 10, 20, 100),
    *,
    variants: bool = True,
) -> dict[str, float]:
    """Mean ``mrr@k``, ``recall@k``, ``ndcg@k`` over the queries of qrels (trec_eval semantics).

    See the module docstring for the exact definitions and conventions; ``variants`` adds the
    reference code's ``recall_capped@k`` and ``ndcg_retrieved@k``.

    Returns:
        ``{"mrr@1": ..., "recall@1": ..., "ndcg@1": ..., ...}`` for every k in ``cutoffs``.
    """
    return per_query_metrics(run, qrels, cutoffs, variants=variants).mean()


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` elementwise, 0 where the denominator is 0."""
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast_shapes(np.shape(numerator), denominator.shape))
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out
