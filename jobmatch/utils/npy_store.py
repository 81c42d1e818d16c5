"""Arrays on disk as ``.npy`` files written atomically: the store under the embedding and reference caches."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` (its folder created) through a temporary file renamed into place, so that
    a reader never sees a partial file and an interrupted write leaves no cache entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, array)
    tmp.replace(path)


def load_npy(path: Path) -> np.ndarray | None:
    """The array stored at ``path``, or None when there is none yet."""
    return np.load(path) if path.exists() else None
