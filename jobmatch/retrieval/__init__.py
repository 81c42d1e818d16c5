"""Retrieval evaluation: FAISS search, trec_eval metrics, BM25 baseline, judge alignment.

The functions ``search.search`` and ``alignment.alignment`` share their module's name; import them
from their modules (``from jobmatch.retrieval.search import search``) so that the package keeps
its submodules as attributes.

The names below load on first use (PEP 562): importing one submodule (the encoding used in training)
must not import FAISS or BM25, which a GPU training node need not have.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "bootstrap_interval": "alignment", "pair_wins": "alignment",
    "bm25_run": "bm25", "strip_markup": "bm25",
    "PerQueryMetrics": "metrics", "per_query_metrics": "metrics", "rank_documents": "metrics",
    "retrieval_metrics": "metrics",
    "build_index": "search", "choose_index_kind": "search", "recall_against_exact": "search",
    "set_threads": "search", "to_run": "search",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
