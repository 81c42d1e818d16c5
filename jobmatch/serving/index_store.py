"""A persistent talent index: FAISS vectors, the talents (ids and texts, memory-mapped) and a manifest.

Layout (``INDEX``)::

    manifest.json            IndexManifest: model fingerprint, corpus fingerprint, count, dim, files, checksums
                             (of the data files, and of the manifest's own fields)
    vectors-<gen>.faiss      the FAISS index (row i = talent i)
    talents-<gen>.arrow      the talents in row order as a text store (id, text, source line), memory-mapped:
                             ``rank`` reads the texts of the talents it shows, by row, and nothing else
    .work/                   an unfinished build or append: the new talents' store and embedding shards,
                             kept so that a rerun encodes only the shards still missing

Every save writes a new generation of the two data files (streamed to disk), then replaces
``manifest.json`` atomically (the commit), then deletes the older generation and ``.work``. An
interrupted build or append therefore leaves the previous index intact (a killed or out-of-space write
leaves at most temporary files and an uncommitted generation, which the next save replaces; an
out-of-space write removes its own files and stops in one line); checksums in the manifest catch corrupt
data files, and the manifest's own checksum a damaged manifest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from jobmatch.data.text_store import TextStore, take_rows, write_store
from jobmatch.retrieval.search import search
from jobmatch.retrieval.shards import file_sha256
from jobmatch.serving.errors import IndexStoreError, ModelMismatchError
from jobmatch.utils.atomic import TEMP_SUFFIX, WriteError, atomic_write, write_problem

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
WORK_DIR = ".work"
FORMAT = "jobmatch-index"
VERSION = 3  # 3: the manifest carries its own checksum (manifest_sha256); 2 (memory-mapped talents) is still read
OLDEST_READ = 2
ROWS_PER_BATCH = 4096
VECTOR_BLOCK = 1 << 20  # bytes of the FAISS vectors handed to the file at a time


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling, flush it to disk, then rename it to ``path``.

    Raises:
        WriteError: a full disk or another OS error (one line; ``path`` keeps its previous content).
    """
    with atomic_write(path, "index file") as handle:
        handle.write(data)


def manifest_checksum(fields: dict[str, Any]) -> str:
    """sha256 of a manifest's fields (all but ``manifest_sha256``), as canonical JSON."""
    body = {k: v for k, v in fields.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class CorpusDigest:
    """The corpus fingerprint, fed (id, text) pairs in row order: sha256 over ``id\\0text\\0`` (16 hex digits)."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def update(self, cid: str, text: str) -> None:
        self._digest.update(cid.encode() + b"\0" + text.encode() + b"\0")

    def hexdigest(self) -> str:
        return self._digest.hexdigest()[:16]


def store_rows(store: TextStore, rows: np.ndarray | None = None) -> Iterator[tuple[str, str, int]]:
    """(id, text, line) of ``rows`` of ``store`` (default: all, in order), read a batch at a time."""
    n = len(store) if rows is None else len(rows)
    table = store._table
    for start in range(0, n, ROWS_PER_BATCH):
        stop = min(start + ROWS_PER_BATCH, n)
        if rows is None:
            parts = [table.column(c).slice(start, stop - start).to_pylist() for c in ("id", "text", "line")]
        else:
            parts = [take_rows(table.column(c), rows[start:stop]) for c in ("id", "text", "line")]
        yield from zip(*parts, strict=True)
        store.release()


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
    manifest_sha256: str = ""


class TalentIndex:
    """Talent embeddings in FAISS (inner product = cosine) with their ids and texts on disk, in row order."""

    def __init__(self, manifest: IndexManifest, index: faiss.Index, talents: TextStore) -> None:
        self.manifest = manifest
        self.index = index
        self.talents = talents

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def ids(self) -> list[str]:
        """Every id in row order (a list built on first use: ``ids_of`` reads only the rows asked for)."""
        return self.talents.ids

    def ids_of(self, rows: Sequence[int] | np.ndarray) -> list[str]:
        """The ids of ``rows``."""
        return take_rows(self.talents._table.column("id"), rows)

    def texts(self, rows: Sequence[int] | np.ndarray) -> list[str]:
        """The texts of ``rows``, read from the memory-mapped talents file."""
        return self.talents.texts(rows)

    def rows_of(self, ids: Sequence[str]) -> np.ndarray:
        """[M] row of each id, -1 where it is not in the index."""
        return self.talents.rows_of(ids)

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

    @classmethod
    def load(cls, folder: str | Path) -> TalentIndex:
        """Load and verify an index (manifest, checksums, counts, dimensions); the talents stay on disk.

        Raises:
            IndexStoreError: the index is missing, corrupt or inconsistent; the message names the file.
        """
        folder = Path(folder)
        manifest = read_index_manifest(folder)
        vectors = _checked(folder / manifest.vectors_file, manifest.vectors_sha256)
        talents_path = _checked(folder / manifest.talents_file, manifest.talents_sha256)
        try:
            index = faiss.read_index(str(vectors))
        except RuntimeError as err:
            raise IndexStoreError(f"{vectors}: corrupt FAISS index ({err})") from None
        try:
            talents = TextStore(talents_path)
        except (OSError, ValueError) as err:
            raise IndexStoreError(f"{talents_path}: corrupt talents file ({err})") from None
        if not (index.ntotal == len(talents) == manifest.count) or index.d != manifest.dim:
            raise IndexStoreError(f"{folder}: inconsistent index ({index.ntotal} vectors of dim {index.d}, "
                                  f"{len(talents)} talents, manifest says {manifest.count} of dim {manifest.dim})")
        return cls(manifest, index, talents)


def prepare_folder(folder: Path) -> int:
    """The generation of the index at ``folder`` (0: none yet), after checking that the folder is an index
    or may become one (it is created).

    Raises:
        IndexStoreError: ``folder`` is a file, or a folder of other files.
    """
    if folder.exists() and not folder.is_dir():
        raise IndexStoreError(f"{folder} is a file, not an index folder")
    folder.mkdir(parents=True, exist_ok=True)
    on_disk = folder / MANIFEST_NAME
    if not on_disk.exists() and any(not _is_index_file(p.name) for p in folder.iterdir()):
        raise IndexStoreError(f"{folder} exists and is not a jobmatch index; refusing to write into it")
    if not on_disk.exists():
        return 0
    try:
        return int(json.loads(on_disk.read_text(encoding="utf-8")).get("generation", 0))
    except (json.JSONDecodeError, ValueError, AttributeError):
        return 0  # a corrupt manifest is replaced


def save_generation(folder: Path, index: faiss.Index, talents: Iterable[tuple[str, str, int]] | TextStore,
                    manifest: IndexManifest) -> IndexManifest:
    """Commit ``index`` and its ``talents`` as the next generation of the index at ``folder`` (see the module
    docstring); returns the committed manifest.

    ``talents`` are (id, text, line) rows, streamed into a new talents file, or a text store whose rows are
    exactly the index's talents in order (a whole build): its file becomes the talents file as a hard link
    (a copy where the file system has none), so that a 10^6-talent build does not write its ~15 GB of
    texts a second time.
    """
    generation = max(prepare_folder(folder), manifest.generation) + 1
    vectors_file, talents_file = f"vectors-{generation:06d}.faiss", f"talents-{generation:06d}.arrow"
    try:
        manifest = _write_generation(folder, index, talents, manifest, generation, vectors_file, talents_file)
    except BaseException as error:  # uncommitted: the generation's data files would only be clutter
        if not _commits(folder / MANIFEST_NAME, vectors_file):
            for name in (vectors_file, talents_file):
                (folder / name).unlink(missing_ok=True)
        if isinstance(error, OSError):
            where = Path(error.filename) if error.filename else folder
            raise WriteError(write_problem(where, "index", error)) from None
        raise
    keep = {MANIFEST_NAME, vectors_file, talents_file}
    for path in folder.iterdir():
        if _is_index_file(path.name) and path.name not in keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return manifest


def _commits(manifest_path: Path, vectors_file: str) -> bool:
    """Whether the manifest on disk names ``vectors_file`` (an interrupt after the manifest's rename)."""
    try:
        return json.loads(manifest_path.read_text(encoding="utf-8")).get("vectors_file") == vectors_file
    except (OSError, ValueError, AttributeError):
        return False


def _write_generation(folder: Path, index: faiss.Index, talents: Iterable[tuple[str, str, int]] | TextStore,
                      manifest: IndexManifest, generation: int, vectors_file: str, talents_file: str) -> IndexManifest:
    """The data files of ``generation``, then its manifest (the commit); returns the committed manifest."""
    with atomic_write(folder / vectors_file, "index") as handle:  # a full disk: one line, nothing left behind
        writer = faiss.PyCallbackIOWriter(handle.write, VECTOR_BLOCK)
        faiss.write_index(index, writer)  # streamed in blocks: no serialised copy of the vectors in memory
        del writer
    digest = CorpusDigest()

    def fingerprinted() -> Iterator[tuple[str, str, int]]:
        for cid, text, line in store_rows(talents) if isinstance(talents, TextStore) else talents:
            digest.update(cid, text)
            yield cid, text, line

    if isinstance(talents, TextStore):
        link_or_copy(talents.path, folder / talents_file)
        for _ in fingerprinted():
            pass
    else:
        write_store(folder / talents_file, fingerprinted(), fingerprint="", source="")
    umask = os.umask(0)
    os.umask(umask)
    (folder / talents_file).chmod(0o666 & ~umask)  # readable like the vectors, not the temporary file's 0600
    manifest = dataclasses.replace(
        manifest, generation=generation, count=int(index.ntotal), vectors_file=vectors_file, talents_file=talents_file,
        vectors_sha256=file_sha256(folder / vectors_file), talents_sha256=file_sha256(folder / talents_file),
        corpus_fingerprint=digest.hexdigest(), sources=list(manifest.sources), version=VERSION)
    manifest.manifest_sha256 = manifest_checksum(dataclasses.asdict(manifest))
    _atomic_write(folder / MANIFEST_NAME, (json.dumps(dataclasses.asdict(manifest), indent=2) + "\n").encode("utf-8"))
    return manifest


def link_or_copy(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (same file system), else as a copy written beside it first."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(target)


def new_manifest(*, model_fingerprint: str, model_path: str, max_passage_length: int, dim: int,
                 kind: str) -> IndexManifest:
    """The manifest of an index about to be built (counts, files and checksums are filled in by the save)."""
    now = utc_now()
    return IndexManifest(model_fingerprint=model_fingerprint, model_path=model_path,
                         max_passage_length=max_passage_length, dim=dim, count=0, kind=kind, corpus_fingerprint="",
                         created=now, updated=now)


def _is_index_file(name: str) -> bool:
    """Data files of some generation, the work folder, or temporaries of an interrupted write."""
    return (name.startswith(("vectors-", "talents-")) or name.endswith(".tmp") or name == WORK_DIR
            or (name.startswith((f".{MANIFEST_NAME}.", ".vectors-")) and name.endswith(TEMP_SUFFIX)))


def _checked(path: Path, sha256: str) -> Path:
    """``path`` after checking its sha256 (streamed) against the manifest's."""
    if not path.is_file():
        raise IndexStoreError(f"{path}: missing (listed in {MANIFEST_NAME}); rebuild the index")
    if file_sha256(path) != sha256:
        raise IndexStoreError(f"{path}: corrupt (checksum differs from {MANIFEST_NAME}); rebuild the index")
    return path


def read_index_manifest(folder: str | Path) -> IndexManifest:
    """The validated manifest of an index folder.

    Raises:
        IndexStoreError: no index there, or an unreadable, incomplete or older-format manifest.
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
    version = obj.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise IndexStoreError(f"{path}: corrupt (format version {version!r}); rebuild the index")
    if version > VERSION:
        raise IndexStoreError(f"{path}: index format version {obj['version']} is newer than this jobmatch reads")
    if version < OLDEST_READ:
        raise IndexStoreError(f"{path}: index format version {version} keeps talents as JSONL; rebuild the index "
                              "(python -m jobmatch.index ... append=false) to get the memory-mapped format")
    names = {f.name for f in dataclasses.fields(IndexManifest)}
    required = ("model_fingerprint", "dim", "count", "vectors_file", "talents_file", "vectors_sha256", "talents_sha256")
    missing = [key for key in required if not obj.get(key) and obj.get(key) != 0]
    if missing:
        raise IndexStoreError(f"{path}: incomplete manifest (missing {missing}); rebuild the index")
    if version >= 3 and obj.get("manifest_sha256") != manifest_checksum(obj):
        raise IndexStoreError(f"{path}: corrupt (its fields do not match its own checksum); rebuild the index")
    wrong = _mistyped_field(obj)
    if wrong:
        raise IndexStoreError(f"{path}: corrupt ({wrong}); rebuild the index")
    return IndexManifest(**{k: v for k, v in obj.items() if k in names})


FIELD_TYPES: dict[str, type] = {
    "dim": int, "count": int, "generation": int, "max_passage_length": int, "sources": list,
    **{name: str for name in ("model_fingerprint", "model_path", "kind", "corpus_fingerprint", "created", "updated",
                              "vectors_file", "talents_file", "vectors_sha256", "talents_sha256")},
}


def _mistyped_field(obj: dict[str, Any]) -> str | None:
    """``field: expected T, found V`` for the first manifest field of the wrong type, or a data file name that
    is not a plain name inside the index folder; ``None`` when every field is well-formed."""
    for name, kind in FIELD_TYPES.items():
        value = obj.get(name)
        if name in obj and (not isinstance(value, kind) or isinstance(value, bool)):
            return f"{name}: expected {kind.__name__}, found {value!r}"
    for name in ("vectors_file", "talents_file"):
        if Path(obj[name]).name != obj[name] or not obj[name].startswith(("vectors-", "talents-")):
            return f"{name}: {obj[name]!r} is not a data file name of an index"
    return None
