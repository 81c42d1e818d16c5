"""Arrays on disk as ``.npy`` files written atomically: the store under the embedding, reference and shard caches.

Several processes may write one entry at once (the ranks of a DDP run, parallel runs of a sweep sharing
``paths.cache_dir``): each writes its own temporary file and renames it into place, so that a reader sees
one writer's whole file and no writer fails because another moved a shared temporary name away.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jobmatch.utils.atomic import atomic_write


def save_npy_atomic(path: Path, array: np.ndarray, what: str = "cached array") -> None:
    """Write ``array`` to ``path`` (its folder created) through a temporary file of this call's own, fsynced and
    renamed into place: a reader never sees a partial file, and a failed write leaves neither entry nor temporary.

    Raises:
        WriteError: a full disk or another OS error (one line naming ``path`` and ``what``).
    """
    with atomic_write(path, what) as handle:
        np.save(handle, array)


def load_npy(path: Path) -> np.ndarray | None:
    """The array stored at ``path``, or None when there is none yet."""
    return np.load(path) if path.exists() else None
