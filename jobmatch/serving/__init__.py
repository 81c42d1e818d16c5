"""Use a trained matcher: export a standalone encoder, index a talent pool, rank talents for JDs.

- :mod:`~jobmatch.serving.export_format`: the export folder (Hugging Face + sentence-transformers
  files + ``jobmatch_export.json``), :func:`export_encoder` and :func:`load_exported`.
- :mod:`~jobmatch.serving.index_store`: a persistent FAISS index of talents, their ids and texts in a
  memory-mapped file, and a manifest; built and appended shard by shard, atomically (:class:`TalentIndex`).
- :mod:`~jobmatch.serving.ranking`: JD input, ranking with a loaded model and index, output tables.

The names below load on first use (PEP 562): training imports :mod:`jobmatch.serving.device` alone,
and must not import FAISS, which a GPU training node need not have.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "ExportFormatError": "errors", "IndexStoreError": "errors", "ModelMismatchError": "errors",
    "ExportManifest": "export_format", "export_encoder": "export_format", "load_exported": "export_format",
    "read_export_manifest": "export_format",
    "IndexManifest": "index_store", "TalentIndex": "index_store",
    "Ranker": "ranking", "read_jds": "ranking",
    "Talent": "talents", "read_talents": "talents",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
