"""Checkpoint integrity: every record of a checkpoint archive checked against its CRC-32 before use.

``torch.save`` writes a zip archive whose records carry a CRC-32 each, but ``torch.load`` never checks
them: a flipped bit in a tensor's bytes loads as a wrong weight (a 1e37 embedding) without a word. Reading
every record once (``zipfile.ZipFile.testzip``) costs one sequential read of the file; the answer is
remembered per (path, size, modification time), so the metadata read and the weights read of one file
verify it once.
"""

from __future__ import annotations

import functools
import os
import zipfile
from pathlib import Path


def corruption(path: Path) -> str | None:
    """Why the archive at ``path`` is damaged (a record failing its CRC-32, an unreadable directory), or
    ``None`` when every record reads back intact. Files that are not zip archives answer ``None``: their
    format is judged by the loader."""
    stat = path.stat()
    return _corruption(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _corruption(path: str, _size: int, _mtime_ns: int) -> str | None:
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        return f"its archive cannot be read through ({type(error).__name__}: {error})"
    if bad is None:
        return None
    return f"record {os.path.basename(bad)!r} fails its CRC-32 check"
