"""Check that output and cache folders can be written before anything expensive starts."""

from __future__ import annotations

import tempfile
from pathlib import Path

from jobmatch.errors import ConfigError


def check_writable(name: str, folder: str | Path, fix: str | None = None) -> Path:
    """Create ``folder`` if needed and write (then remove) a scratch file in it.

    ``name`` is what the message calls the folder (the caller's argument, or the option that set it), ``fix``
    the remedy it suggests (default: set ``name`` to a folder you can write).

    Raises:
        ConfigError: ``name=folder: not a writable folder (why); fix: ...``. Writing is tried rather than
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
            f"{name}={folder}: not a writable folder ({why}); fix: {fix or f'set {name} to a folder you can write'}"
        ) from None
    return path


def populated(folder: Path) -> bool:
    """Whether ``folder`` exists and holds anything."""
    return folder.is_dir() and any(folder.iterdir())
