"""A persistent talent index: FAISS vectors, the id map (with texts, for snippets) and a manifest.

Layout (``INDEX``)::

    manifest.json            IndexManifest: model fingerprint, corpus fingerprint, count, dim, files, checksums
    vectors-<gen>.faiss      the FAISS index (row i = talent i)
    talents-<gen>.jsonl      {"id", "text"} per line, in row order

Every save writes a new generation of the two data files, then replaces ``manifest.json``
atomically (the commit), then deletes the older generation. An interrupted build or append
therefore leaves the previous index intact; checksums in the manifest catch corrupt files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from jobmatch.retrieval.encode import texts_fingerprint
from jobmatch.retrieval.search import build_index, choose_index_kind, search
from jobmatch.serving.errors import IndexStoreError, ModelMismatchError
from jobmatch.serving.talents import Talent

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
FORMAT = "jobmatch-index"
VERSION = 1
# A served index answers queries for its whole life, so an ANN build pays back sooner than in an
# evaluation (make bench, ann_scale: HNSW's build is repaid after about 1.3k-5.6k queries at 10^5 talents).
SERVING_EXACT_MAX = 100_000


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling, flush it to disk, then rename it to ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def corpus_fingerprint(ids: Sequence[str], texts: Sequence[str]) -> str:
    """sha256 over the (id, text) pairs in row order (first 16 hex digits)."""
    return texts_fingerprint([part for pair in zip(ids, texts, strict=True) for part in pair])


@dataclass
class IndexManifest:
    """``manifest.json`` of a talent index."""

    model_fingerprint: str
    model_path: str
    max_passage_length: int
    dim: int
    count: int
    kind: str
    corpus_fingerprint: str
    created: str
    updated: str
    generation: int = 0
    vectors_file: str = ""
    talents_file: str = ""
    vectors_sha256: str = ""
    talents_sha256: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    format: str = FORMAT
    version: int = VERSION


class TalentIndex:
    """Talent embeddings in FAISS (inner product = cosine) with their ids and texts, in row order."""

    def __init__(self, manifest: IndexManifest, index: faiss.Index, ids: list[str], texts: list[str]) -> None:
        self.manifest = manifest
        self.index = index
        self.ids = ids
        self.texts = texts
        self.row_of = {tid: row for row, tid in enumerate(ids)}

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(
        cls, embeddings: np.ndarray, talents: Sequence[Talent], *, model_fingerprint: str, model_path: str,
        max_passage_length: int, kind: str = "auto", source: str = "",
    ) -> TalentIndex:
        """A new in-memory index of ``talents`` and their [N, D] embeddings (save it with :meth:`save`)."""
        if len(embeddings) != len(talents):
            raise ValueError(f"{len(embeddings)} embeddings for {len(talents)} talents")
        kind = choose_index_kind(len(talents), threshold=SERVING_EXACT_MAX) if kind == "auto" else kind
        ids, texts = [t.id for t in talents], [t.text for t in talents]
        now = _now()
        manifest = IndexManifest(
            model_fingerprint=model_fingerprint, model_path=model_path, max_passage_length=max_passage_length,
            dim=int(embeddings.shape[1]), count=len(ids), kind=kind, corpus_fingerprint=corpus_fingerprint(ids, texts),
            created=now, updated=now, sources=[{"file": source, "added": len(ids), "time": now}],
        )
        return cls(manifest, build_index(embeddings, kind), ids, texts)

    def add(self, embeddings: np.ndarray, talents: Sequence[Talent], *, source: str = "") -> None:
        """Append talents (new ids only) and their [M, D] embeddings, in memory."""
        duplicates = [t.id for t in talents if t.id in self.row_of]
        if duplicates:
            raise ValueError(f"ids already in the index: {duplicates[:5]}")
        if embeddings.shape != (len(talents), self.manifest.dim):
            raise ValueError(f"embeddings {embeddings.shape} for {len(talents)} talents of dim {self.manifest.dim}")
        self.index.add(np.ascontiguousarray(embeddings, dtype=np.float32))
        for talent in talents:
            self.row_of[talent.id] = len(self.ids)
            self.ids.append(talent.id)
            self.texts.append(talent.text)
        self.manifest.count = len(self.ids)
        self.manifest.corpus_fingerprint = corpus_fingerprint(self.ids, self.texts)
        self.manifest.updated = _now()
        self.manifest.sources.append({"file": source, "added": len(talents), "time": self.manifest.updated})

    def check_model(self, fingerprint: str, model_path: str | Path, where: str = "") -> None:
        """Refuse a model other than the one that built the index.

        Raises:
            ModelMismatchError: the fingerprints differ.
        """
        if fingerprint != self.manifest.model_fingerprint:
            raise ModelMismatchError(
                f"index {where or 'in use'} was built with the model {self.manifest.model_path} (fingerprint "
                f"{self.manifest.model_fingerprint}), but {model_path} has fingerprint {fingerprint}: its scores "
                "would be meaningless. Use the model the index was built with, or rebuild the index with this "
                "model (jobmatch index ... append=false)")

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-min(k, N) talents per query: scores and row indices, each [Q, min(k, N)]."""
        return search(self.index, queries, min(k, len(self)))

    def save(self, folder: str | Path) -> None:
        """Commit the index to ``folder`` atomically (see the module docstring)."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise IndexStoreError(f"{folder} is a file, not an index folder")
        folder.mkdir(parents=True, exist_ok=True)
        on_disk = folder / MANIFEST_NAME
        if not on_disk.exists() and any(not _is_index_file(p.name) for p in folder.iterdir()):
            raise IndexStoreError(f"{folder} exists and is not a jobmatch index; refusing to write into it")
        previous = 0
        if on_disk.exists():
            try:
                previous = int(json.loads(on_disk.read_text(encoding="utf-8")).get("generation", 0))
            except (json.JSONDecodeError, ValueError, AttributeError):
                previous = 0  # a corrupt manifest is replaced
        generation = max(previous, self.manifest.generation) + 1
        vectors = faiss.serialize_index(self.index).tobytes()
        talents = "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
                          for i, t in zip(self.ids, self.texts, strict=True)).encode("utf-8")
        manifest = dataclasses.replace(
            self.manifest, generation=generation, vectors_file=f"vectors-{generation:06d}.faiss",
            talents_file=f"talents-{generation:06d}.jsonl", vectors_sha256=_sha256(vectors),
            talents_sha256=_sha256(talents), sources=list(self.manifest.sources))
        _atomic_write(folder / manifest.vectors_file, vectors)
        _atomic_write(folder / manifest.talents_file, talents)
        _atomic_write(on_disk, (json.dumps(dataclasses.asdict(manifest), indent=2) + "\n").encode("utf-8"))
        self.manifest = manifest
        keep = {MANIFEST_NAME, manifest.vectors_file, manifest.talents_file}
        for path in folder.iterdir():
            if _is_index_file(path.name) and path.name not in keep:
                path.unlink()

    @classmethod
    def load(cls, folder: str | Path) -> TalentIndex:
        """Load and verify an index (manifest, checksums, counts, dimensions).

        Raises:
            IndexStoreError: the index is missing, corrupt or inconsistent; the message names the file.
        """
        folder = Path(folder)
        manifest = read_index_manifest(folder)
        vectors = _read_checked(folder / manifest.vectors_file, manifest.vectors_sha256)
        talents = _read_checked(folder / manifest.talents_file, manifest.talents_sha256)
        try:
            index = faiss.deserialize_index(np.frombuffer(vectors, dtype=np.uint8))
        except RuntimeError as err:
            raise IndexStoreError(f"{folder / manifest.vectors_file}: corrupt FAISS index ({err})") from None
        ids, texts = [], []
        lines = talents.decode("utf-8").split("\n")  # not splitlines(): texts may hold U+2028 and the like
        for number, line in enumerate(lines[:-1] if lines and lines[-1] == "" else lines, start=1):
            try:
                row = json.loads(line)
                ids.append(str(row["id"]))
                texts.append(str(row["text"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise IndexStoreError(f"{folder / manifest.talents_file}:{number}: corrupt talent row") from None
        if not (index.ntotal == len(ids) == manifest.count) or index.d != manifest.dim:
            raise IndexStoreError(f"{folder}: inconsistent index ({index.ntotal} vectors of dim {index.d}, "
                                  f"{len(ids)} talents, manifest says {manifest.count} of dim {manifest.dim})")
        return cls(manifest, index, ids, texts)


def _is_index_file(name: str) -> bool:
    """Data files of some generation, or temporaries of an interrupted write."""
    return name.startswith(("vectors-", "talents-")) or name.endswith(".tmp")


def _read_checked(path: Path, sha256: str) -> bytes:
    if not path.is_file():
        raise IndexStoreError(f"{path}: missing (listed in {MANIFEST_NAME}); rebuild the index")
    data = path.read_bytes()
    if _sha256(data) != sha256:
        raise IndexStoreError(f"{path}: corrupt (checksum differs from {MANIFEST_NAME}); rebuild the index")
    return data


def read_index_manifest(folder: str | Path) -> IndexManifest:
    """The validated manifest of an index folder.

    Raises:
        IndexStoreError: no index there, or an unreadable or incomplete manifest.
    """
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if not folder.exists():
        raise IndexStoreError(f"index {folder} does not exist; build it with "
                              f"jobmatch index model=EXPORT corpus=FILE out={folder}")
    if not path.is_file():
        raise IndexStoreError(f"{folder} is not a jobmatch index (no {MANIFEST_NAME})")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise IndexStoreError(f"{path}: corrupt (not valid JSON: {err}); rebuild the index") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise IndexStoreError(f"{path}: not a jobmatch index manifest (format should be '{FORMAT}')")
    if int(obj.get("version", 0)) > VERSION:
        raise IndexStoreError(f"{path}: index format version {obj['version']} is newer than this jobmatch reads")
    names = {f.name for f in dataclasses.fields(IndexManifest)}
    required = ("model_fingerprint", "dim", "count", "vectors_file", "talents_file", "vectors_sha256", "talents_sha256")
    missing = [key for key in required if not obj.get(key) and obj.get(key) != 0]
    if missing:
        raise IndexStoreError(f"{path}: incomplete manifest (missing {missing}); rebuild the index")
    try:
        return IndexManifest(**{k: v for k, v in obj.items() if k in names})
    except TypeError as err:
        raise IndexStoreError(f"{path}: incomplete manifest ({err}); rebuild the index") from None
