"""Arrays on disk as ``.npy`` files written atomically: the store under the embedding and reference caches.

Several processes may write one entry at once (the ranks of a DDP run, parallel runs of a sweep sharing
``paths.cache_dir``): each writes its own temporary file and renames it into place, so that a reader sees
one writer's whole file and no writer fails because another moved a shared temporary name away.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` (its folder created) through a temporary file of this call's own, renamed
    into place: a reader never sees a partial file, and an interrupted write leaves neither entry nor temporary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, array)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def load_npy(path: Path) -> np.ndarray | None:
    """The array stored at ``path``, or None when there is none yet."""
    return np.load(path) if path.exists() else None
