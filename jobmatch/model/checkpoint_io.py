"""Lightning's checkpoint writer, made atomic on the destination filesystem.

Lightning's ``TorchCheckpointIO`` stages a checkpoint in a temporary file of the system temp folder and
moves it into place; across filesystems the move is a copy, so a full disk leaves a truncated
``last.ckpt`` where a good one was. :class:`AtomicCheckpointIO` writes beside the destination instead
(:func:`jobmatch.utils.atomic.atomic_write`: temporary file, fsync, rename), streaming ``torch.save``
into it rather than through an in-memory copy of the whole checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO

from jobmatch.utils.atomic import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save local checkpoints atomically (temporary file in the same folder, fsync, rename); remote
    paths (``s3://`` and such) keep Lightning's own writer."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None or not is_local(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        with atomic_write(Path(path), "checkpoint") as handle:
            torch.save(checkpoint, handle)


def is_local(path: Any) -> bool:
    """True for a path on the local filesystem (no ``scheme://`` other than ``file://``)."""
    return isinstance(get_filesystem(str(path)), LocalFileSystem)


def checkpoint_plugins(trainer_cfg: Any) -> list[AtomicCheckpointIO]:
    """The plugins a training run adds: the atomic writer, unless the trainer config sets its own plugins
    or uses DeepSpeed (which writes its checkpoint folders itself)."""
    if trainer_cfg.get("plugins") or "deepspeed" in str(trainer_cfg.get("strategy") or ""):
        return []
    return [AtomicCheckpointIO()]
