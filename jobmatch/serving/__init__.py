"""Use a trained matcher: export a standalone encoder, index a talent pool, rank talents for JDs.

- :mod:`~jobmatch.serving.export_format`: the export folder (Hugging Face + sentence-transformers
  files + ``jobmatch_export.json``), :func:`export_encoder` and :func:`load_exported`.
- :mod:`~jobmatch.serving.index_store`: a persistent FAISS index of talents with its id map and a
  manifest, built and appended atomically (:class:`TalentIndex`).
- :mod:`~jobmatch.serving.ranking`: JD input, ranking with a loaded model and index, output tables.
"""

from jobmatch.serving.errors import ExportFormatError, IndexStoreError, ModelMismatchError
from jobmatch.serving.export_format import ExportManifest, export_encoder, load_exported, read_export_manifest
from jobmatch.serving.index_store import IndexManifest, TalentIndex
from jobmatch.serving.ranking import Ranker, read_jds
from jobmatch.serving.talents import Talent, read_talents

__all__ = [
    "ExportFormatError",
    "ExportManifest",
    "IndexManifest",
    "IndexStoreError",
    "ModelMismatchError",
    "Ranker",
    "Talent",
    "TalentIndex",
    "export_encoder",
    "load_exported",
    "read_export_manifest",
    "read_jds",
    "read_talents",
]
