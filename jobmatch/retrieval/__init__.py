"""Retrieval evaluation: FAISS search, trec_eval metrics, BM25 baseline, judge alignment.

The functions ``search.search`` and ``alignment.alignment`` share their module's name; import them
from their modules (``from jobmatch.retrieval.search import search``) so that the package keeps
its submodules as attributes.
"""

from jobmatch.retrieval.alignment import bootstrap_interval, pair_wins
from jobmatch.retrieval.bm25 import bm25_run, strip_markup
from jobmatch.retrieval.metrics import PerQueryMetrics, per_query_metrics, rank_documents, retrieval_metrics
from jobmatch.retrieval.search import build_index, choose_index_kind, recall_against_exact, set_threads, to_run

__all__ = [
    "PerQueryMetrics",
    "bm25_run",
    "bootstrap_interval",
    "build_index",
    "choose_index_kind",
    "pair_wins",
    "per_query_metrics",
    "rank_documents",
    "recall_against_exact",
    "retrieval_metrics",
    "set_threads",
    "strip_markup",
    "to_run",
]
