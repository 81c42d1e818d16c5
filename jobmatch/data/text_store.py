"""Texts on disk: an Arrow IPC file of ``(id, text, line)`` rows, memory-mapped and read by row.

A pool of 10^6 talent profiles of ~15 KB is ~15 GB of text, so texts stay on disk: a step reads the rows
it needs (``texts(rows)``), scans go batch by batch (``iter_batches``), and everything else refers to a
text by its row or id. A store is built once from a JSONL file (streamed: one record batch in memory)
and found again in a cache folder by the source's path, size and modification time; its
``fingerprint`` is the sha256 of the source's bytes, so that caches built on it (token ids,
embeddings) follow the content, not the file name.

Pages of the memory map that a read touched count towards the process's RSS until they are
released: long scans call :meth:`TextStore.release` (the data stays in the OS page cache).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobmatch.data.readers import DataFormatError, corpus_entry, iter_jsonl
from jobmatch.utils.digest import file_sha256

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.large_string()), ("line", pa.int64())])
FORMAT_VERSION = "1"
BATCH_BYTES = 32 << 20  # a record batch holds about this much text (a bounded write buffer)
BATCH_ROWS = 8192


class TextStore:
    """``(id, text)`` rows of an Arrow IPC file, memory-mapped: ``len``, ``ids``, ``texts(rows)``, ``rows_of(ids)``.

    Rows keep the order of the source; ``line`` is a row's line in the source file (0 when the texts
    did not come from a file), for ``FILE:LINE`` messages.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self.path.open("rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        reader = pa.ipc.open_file(pa.py_buffer(self._map))
        self._table = reader.read_all()  # zero-copy views into the map
        meta = reader.schema.metadata or {}
        self.fingerprint = meta.get(b"fingerprint", b"").decode()
        self.source = meta.get(b"source", b"").decode()
        self._ids: list[str] | None = None

    def __len__(self) -> int:
        return self._table.num_rows

    @property
    def ids(self) -> list[str]:
        """Every id in row order (built once; ~70 bytes per id)."""
        if self._ids is None:
            self._ids = self._table.column("id").to_pylist()
        return self._ids

    def text(self, row: int) -> str:
        """The text of one row."""
        return self.texts([row])[0]

    def texts(self, rows: Sequence[int] | np.ndarray) -> list[str]:
        """The texts of ``rows`` (any order, repeats allowed), decoded from the map."""
        return take_rows(self._table.column("text"), rows)

    def lines(self, rows: Sequence[int] | np.ndarray) -> list[int]:
        """The source lines of ``rows``."""
        return take_rows(self._table.column("line"), rows)

    def rows_of(self, ids: Sequence[str]) -> np.ndarray:
        """[M] int64 row of each id, -1 where an id is not in the store (a hash join in Arrow, O(N + M))."""
        found = pc.index_in(pa.array(list(ids), type=pa.string()), value_set=self._table.column("id"))
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)

    def iter_batches(self, rows_per_batch: int = 4096) -> Iterator[tuple[int, list[str]]]:
        """(first row, texts) of consecutive slices, releasing the pages read after each slice."""
        column = self._table.column("text")
        for start in range(0, len(self), rows_per_batch):
            yield start, column.slice(start, rows_per_batch).to_pylist()
            self.release()

    def byte_lengths(self) -> np.ndarray:
        """[N] int64 UTF-8 bytes of every text (from the offsets: no text is read)."""
        return pc.binary_length(self._table.column("text")).to_numpy(zero_copy_only=False).astype(np.int64)

    def text_bytes(self) -> int:
        """UTF-8 bytes of all texts."""
        return sum(chunk.buffers()[2].size for chunk in self._table.column("text").chunks if chunk.buffers()[2])

    def release(self) -> None:
        """Drop the map's resident pages from this process (they stay in the OS page cache)."""
        if hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)

    @classmethod
    def from_jsonl(cls, path: str | Path, cache_dir: str | Path, *, progress: bool = False) -> TextStore:
        """The store of a corpus JSONL (``{"id", "text"}`` per line), built on first use into ``cache_dir``.

        Every line is validated as the corpus reader does (``FILE:LINE: problem``); a duplicate id
        names both lines. The store is found again while the file keeps its path, size and
        modification time.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such corpus file")
        target = Path(cache_dir) / "texts" / f"{source_key(path)}.arrow"
        if target.exists():
            return cls(target)
        entries = iter_jsonl(path, corpus_entry, "raise", what="corpus")
        rows = ((cid, text, number) for number, cid, text in _progress(entries, progress, path.name))
        write_store(target, rows, fingerprint=file_sha256(path), source=str(path))
        store = cls(target)
        duplicate = _first_duplicate(store)
        if duplicate is not None:
            target.unlink()
            first, second, cid = duplicate
            raise DataFormatError(path, second, f"duplicate id '{cid}' (first on line {first})")
        return store

    @classmethod
    def from_texts(cls, items: Sequence[tuple[str, str]], path: str | Path) -> TextStore:
        """A store of in-memory ``(id, text)`` pairs written to ``path`` (fingerprint: sha256 of ids and texts)."""
        digest = hashlib.sha256()
        for cid, text in items:
            digest.update(cid.encode() + b"\0" + text.encode() + b"\0")
        write_store(Path(path), ((cid, text, 0) for cid, text in items), fingerprint=digest.hexdigest(), source="")
        return cls(path)


def take_rows(column: pa.ChunkedArray, rows: Sequence[int] | np.ndarray) -> list:
    """The values of ``rows`` of ``column`` as Python objects, taken record batch by record batch:
    ``ChunkedArray.take`` would first concatenate the whole column (the whole corpus's text) in memory."""
    rows = np.asarray(rows, dtype=np.int64)
    out: list = [None] * len(rows)
    if not len(rows):
        return out
    bounds = np.cumsum([0, *(len(chunk) for chunk in column.chunks)])  # [chunks + 1]
    if rows.min() < 0 or rows.max() >= bounds[-1]:
        raise IndexError(f"rows out of range for {bounds[-1]} rows")
    which = np.searchsorted(bounds, rows, side="right") - 1  # [M] chunk of each row
    for chunk in np.unique(which).tolist():
        picks = np.flatnonzero(which == chunk)
        values = column.chunk(chunk).take(pa.array(rows[picks] - bounds[chunk])).to_pylist()
        for position, value in zip(picks.tolist(), values, strict=True):
            out[position] = value
    return out


def source_key(path: Path) -> str:
    """A cache key of a file: its resolved path, size and modification time (first 20 hex digits)."""
    stat = path.stat()
    raw = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{FORMAT_VERSION}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def write_store(target: Path, rows: Iterable[tuple[str, str, int]], *, fingerprint: str, source: str) -> None:
    """Stream ``(id, text, line)`` rows into an Arrow IPC file at ``target``, atomically (a temporary file in
    the same folder, renamed into place), with ``fingerprint`` and ``source`` in its schema metadata."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    schema = SCHEMA.with_metadata({"fingerprint": fingerprint, "source": source, "version": FORMAT_VERSION})
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            for batch in _batches(rows, schema):
                writer.write_batch(batch)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _batches(rows: Iterable[tuple[str, str, int]], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Record batches of at most :data:`BATCH_ROWS` rows or about :data:`BATCH_BYTES` of text (at least one)."""
    ids: list[str] = []
    texts: list[str] = []
    lines: list[int] = []
    size, written = 0, False
    for cid, text, line in rows:
        ids.append(cid)
        texts.append(text)
        lines.append(line)
        size += len(text)
        if size >= BATCH_BYTES or len(ids) >= BATCH_ROWS:
            yield _batch(ids, texts, lines, schema)
            ids, texts, lines, size, written = [], [], [], 0, True
    if ids or not written:
        yield _batch(ids, texts, lines, schema)


def _batch(ids: list[str], texts: list[str], lines: list[int], schema: pa.Schema) -> pa.RecordBatch:
    columns = [pa.array(ids, pa.string()), pa.array(texts, pa.large_string()), pa.array(lines, pa.int64())]
    return pa.record_batch(columns, schema=schema)


def _first_duplicate(store: TextStore) -> tuple[int, int, str] | None:
    """(first line, second line, id) of the first repeated id, or None (counted in Arrow, O(N))."""
    ids = store._table.column("id")
    counts = pc.value_counts(ids)
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    if len(repeated) == 0:
        return None
    rows = np.flatnonzero(pc.is_in(ids, value_set=repeated).to_numpy(zero_copy_only=False))
    seen: dict[str, int] = {}
    for cid, line in zip(ids.take(pa.array(rows)).to_pylist(), store.lines(rows), strict=True):
        if cid in seen:
            return seen[cid], line, cid
        seen[cid] = line
    return None


def _progress(items: Iterable, enabled: bool, name: str) -> Iterable:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=f"store {name}", unit="text", leave=False)


def dump_jsonl(store: TextStore, path: str | Path) -> None:
    """Write the store back as ``{"id", "text"}`` JSONL (the reference corpus format), batch by batch."""
    path = Path(path)
    ids = store.ids
    with path.open("w", encoding="utf-8") as handle:
        for start, texts in store.iter_batches():
            for offset, text in enumerate(texts):
                handle.write(json.dumps({"id": ids[start + offset], "text": text}, ensure_ascii=False) + "\n")
