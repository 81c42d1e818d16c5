"""A per-process scratch folder for on-disk stores that no cache folder was given for.

Library objects that keep texts or token ids on disk (text stores, token stores) take a cache folder;
the tasks pass ``paths.cache_dir``. Code that builds such objects from in-memory data without one (tests,
notebooks, a retrieval set made from a dict) gets this folder instead: created on first use, removed
when the process exits.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_folder: Path | None = None


def scratch_dir() -> Path:
    """This process's scratch folder (created on first call, removed at exit)."""
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="jobmatch-scratch-"))
        atexit.register(shutil.rmtree, _folder, True)
    return _folder


def cache_or_scratch(cache_dir: str | Path | None) -> Path:
    """``cache_dir`` when given, else :func:`scratch_dir`."""
    return Path(cache_dir) if cache_dir is not None else scratch_dir()
