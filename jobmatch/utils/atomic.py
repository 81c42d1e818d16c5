"""Replace a file atomically on its own filesystem: write a temporary file beside it, fsync, rename.

A rename within one folder is atomic, so a reader (or a rerun after a crash or a full disk) sees either
the old file whole or the new one whole, never a truncated mix. The temporary file lives in the
destination folder on purpose: a temporary file elsewhere (``/tmp``) makes the final move a copy when the
two are on different filesystems, and a copy interrupted by a full disk leaves a truncated destination.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from jobmatch.errors import UserError

TEMP_SUFFIX = ".partial"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)  # errors only a write can meet


class WriteError(UserError):
    """A file that could not be written (full disk, read-only folder); the previous file, if any, is intact."""


@contextlib.contextmanager
def atomic_write(path: str | Path, what: str = "file") -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` only when the block ends without an error.

    ``what`` names the file in the error (``checkpoint``, ``index shard``). On any failure the temporary
    file is removed and ``path`` is left as it was.

    Raises:
        WriteError: the disk is full, the folder read-only, or another OS error while writing (one line).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # the mode of a plainly created file, not the temporary file's 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise WriteError(write_problem(path, what, error)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str, what: str = "file") -> None:
    """Replace ``path`` by ``text`` (UTF-8) atomically; see :func:`atomic_write`."""
    with atomic_write(path, what) as handle:
        handle.write(text.encode("utf-8"))


def write_problem(path: Path, what: str, error: OSError) -> str:
    """``PATH: could not write the <what> (why); the previous one is intact; fix`` for an OS error."""
    why = os.strerror(error.errno) if error.errno else error.strerror or str(error) or type(error).__name__
    fix = "free space on that disk" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "make that folder writable"
    return f"{path}: could not write the {what} ({why}); any previous {what} there is intact; fix: {fix} and rerun"


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: some filesystems refuse a directory fsync)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
