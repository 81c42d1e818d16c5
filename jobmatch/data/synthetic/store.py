"""JSONL written row by row, hashed as it is written, with texts read back by key from disk.

A large market's texts do not fit in memory (10^6 real-length profiles are ~15-20 GB), so the
generator writes each text once (the corpus, a spill file of postings) and reads it back by its byte
offset when a row, a figure or the judge needs it. The bytes are those of
:func:`jobmatch.data.readers.write_jsonl` (``json.dumps(row, ensure_ascii=False)`` and a newline).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import TracebackType
from typing import IO, Any


class JsonlFile:
    """A JSONL file being written; ``key`` rows can be read back with :meth:`text` (after :meth:`close`).

    Args:
        path: the file to create (overwritten).
        text_field: the field :meth:`text` returns.
    """

    def __init__(self, path: str | Path, text_field: str = "text") -> None:
        self.path = Path(path)
        self.text_field = text_field
        self.rows = 0
        self.bytes = 0
        self._sha = hashlib.sha256()
        self._offsets: dict[str, int] = {}
        self._out: IO[bytes] | None = self.path.open("wb")
        self._in: IO[bytes] | None = None

    def write(self, row: dict[str, Any], key: str | None = None) -> None:
        """Append one row; with ``key``, remember where it starts."""
        if self._out is None:
            raise ValueError(f"{self.path} is closed for writing")
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        if key is not None:
            self._offsets[key] = self.bytes
        self._out.write(line)
        self._sha.update(line)
        self.bytes += len(line)
        self.rows += 1

    def close(self) -> None:
        """Finish writing (reading stays possible)."""
        if self._out is not None:
            self._out.close()
            self._out = None

    @property
    def sha256(self) -> str:
        """Hex digest of the bytes written so far."""
        return self._sha.hexdigest()

    def text(self, key: str) -> str:
        """The ``text_field`` of the row written with ``key``."""
        self.close()
        if self._in is None:
            self._in = self.path.open("rb")
        self._in.seek(self._offsets[key])
        return json.loads(self._in.readline())[self.text_field]

    def release(self) -> None:
        """Close both handles."""
        self.close()
        if self._in is not None:
            self._in.close()
            self._in = None

    def __enter__(self) -> JsonlFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()
