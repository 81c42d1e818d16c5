"""Check that output and cache folders can be written before anything expensive starts."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from jobmatch.errors import ConfigError


def check_writable(option: str, folder: str | Path) -> Path:
    """Create ``folder`` if needed and write (then remove) a scratch file in it.

    Raises:
        ConfigError: ``option=folder: not a writable folder (why); fix``. Writing is tried rather than
            permissions read, so a read-only mount, a full disk or a file in the way are all caught,
            also for root.
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as error:
        why = error.strerror or type(error).__name__
        raise ConfigError(
            f"{option}={folder}: not a writable folder ({why}); "
            f"fix: set {option} (or paths.output_dir) to a folder you can write"
        ) from None
    return path


def check_writable_folders(folders: Mapping[str, str | Path | None]) -> None:
    """:func:`check_writable` on each ``option: folder`` pair (None: not used by this run)."""
    for option, folder in folders.items():
        if folder is not None:
            check_writable(option, folder)


def populated(folder: Path) -> bool:
    """Whether ``folder`` exists and holds anything."""
    return folder.is_dir() and any(folder.iterdir())
