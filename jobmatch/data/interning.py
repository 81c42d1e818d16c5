"""Distinct texts written once to an on-disk text store as they stream by (deduplicated by content).

Files in the reference format carry their texts inline: a talent that is the positive of three JDs and
the negative of ten appears thirteen times. Reading such files, each distinct text is appended once to
an Arrow store (:class:`~jobmatch.data.text_store.TextStore`) and every later occurrence gets the row of
the first; only a 16-byte digest per distinct text stays in memory (~100 bytes with its dict entry).

The finished store is named by the sha256 of its texts in order, so that interning the same files again
finds the same store (and the token and embedding caches built on its fingerprint).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pyarrow as pa

from jobmatch.data.text_store import BATCH_BYTES, BATCH_ROWS, FORMAT_VERSION, SCHEMA, TextStore
from jobmatch.utils.atomic import DISK_FULL, WriteError, write_problem


def text_digest(text: str) -> bytes:
    """16-byte blake2b digest of a text's UTF-8 bytes (the identity of interned texts)."""
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


class TextInterner:
    """Append distinct texts to a new text store: ``add(text)`` returns the text's row, ``finish()`` the store.

    Rows count from 0 in order of first appearance; a store's ids are ``str(row)``. Texts are buffered up
    to about :data:`~jobmatch.data.text_store.BATCH_BYTES` and written as Arrow record batches into a
    temporary ``texts/interned.*.tmp`` that ``finish()`` renames. An interner that is not finished (a read
    that failed) removes that file: on ``abort()``, when a ``with`` block leaves on an error, and at the
    latest when it is garbage-collected or the interpreter exits.
    """

    def __init__(self, cache_dir: str | Path) -> None:
        self.folder = Path(cache_dir) / "texts"
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="interned.", suffix=".tmp", dir=self.folder)
        os.close(fd)
        self._tmp = Path(name)
        self._sink = pa.OSFile(str(self._tmp), "wb")
        self._writer = pa.ipc.new_file(self._sink, SCHEMA.with_metadata({"version": FORMAT_VERSION}))
        self._rows: dict[bytes, int] = {}
        self._digest = hashlib.sha256()
        self._texts: list[str] = []
        self._lines: list[int] = []
        self._size = 0
        self._store: TextStore | None = None
        self._discard = weakref.finalize(self, _discard_temporary, self._writer, self._sink, self._tmp)

    def __enter__(self) -> TextInterner:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is not None:
            self.abort()

    def abort(self) -> bool:
        """Close and delete the unfinished store (a no-op once finished); whether there was one to delete."""
        return self._store is None and self._discard() is not None

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, text: str, line: int = 0) -> int:
        """The row of ``text``, appending it when new (``line``: where it was first seen, for messages)."""
        key = text_digest(text)
        row = self._rows.get(key)
        if row is not None:
            return row
        if self._store is not None or not self._discard.alive:
            raise RuntimeError("this interner is finished (or was aborted): start a new one")
        row = self._rows[key] = len(self._rows)
        self._digest.update(text.encode() + b"\0")
        self._texts.append(text)
        self._lines.append(line)
        self._size += len(text)
        if self._size >= BATCH_BYTES or len(self._texts) >= BATCH_ROWS:
            self._flush()
        return row

    def row(self, text: str) -> int | None:
        """The row of ``text`` when it was added, else None."""
        return self._rows.get(text_digest(text))

    def _flush(self) -> None:
        first = len(self._rows) - len(self._texts)
        ids = pa.array([str(first + i) for i in range(len(self._texts))], pa.string())
        batch = pa.record_batch([ids, pa.array(self._texts, pa.large_string()), pa.array(self._lines, pa.int64())],
                                schema=SCHEMA)
        with self._writing():
            self._writer.write_batch(batch)
        self._texts, self._lines, self._size = [], [], 0

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Writes to the temporary store: a full disk (quota, read-only filesystem) aborts and is one line."""
        try:
            yield
        except OSError as error:
            if error.errno not in DISK_FULL:
                raise
            self.abort()
            raise WriteError(write_problem(self._tmp, "interned texts", error)) from None

    def finish(self) -> TextStore:
        """Close the store and open it, memory-mapped (idempotent). Its file is ``texts/interned-<sha>.arrow``, named
        by the sha256 of its texts in order, which is also its fingerprint."""
        if self._store is not None:
            return self._store
        if not self._discard.alive:
            raise RuntimeError("this interner was aborted: start a new one")
        self._flush()
        with self._writing():
            self._writer.close()
            self._sink.close()
        name = f"interned-{self._digest.hexdigest()[:32]}"
        target = self.folder / f"{name}.arrow"
        if target.exists():  # the same texts were interned before (another run, another process)
            self._tmp.unlink(missing_ok=True)
        else:
            os.replace(self._tmp, target)
        self._discard.detach()
        self._store = TextStore(target)
        self._store.fingerprint = name  # the sha256 of the texts in order (first 32 hex digits)
        return self._store


def _discard_temporary(writer: pa.ipc.RecordBatchFileWriter, sink: pa.NativeFile, tmp: Path) -> bool:
    """Close an unfinished interner's Arrow writer and file and delete the file (returns True: discarded)."""
    for closing in (writer, sink):
        with contextlib.suppress(Exception):  # a half-written stream may refuse to close cleanly
            closing.close()
    tmp.unlink(missing_ok=True)
    return True
