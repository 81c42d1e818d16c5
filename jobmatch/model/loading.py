"""Load the encoder of any stage checkpoint (or the untrained base model) safely."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobmatch.model.checkpoint import DEFAULT_FIX, checkpoint_info, inspect_checkpoint, read_checkpoint
from jobmatch.model.encoder import TextEncoder

__all__ = ["checkpoint_model_config", "load_encoder", "read_checkpoint"]


def load_encoder(ckpt_path: str | Path | None, model_cfg: Mapping[str, Any] | None = None) -> TextEncoder:
    """The encoder of a Lightning checkpoint of either stage, or a fresh one from ``model_cfg``.

    The architecture comes from the checkpoint's saved ``model`` hyperparameters, so the current
    config cannot silently mismatch the weights. An unreadable or foreign file raises
    :class:`~jobmatch.model.checkpoint.CheckpointError` (a one-line UserError).
    """
    if ckpt_path is None:
        if model_cfg is None:
            raise ValueError("load_encoder needs a checkpoint or a model config")
        return TextEncoder(model_cfg)
    checkpoint = read_checkpoint(ckpt_path, mmap=True)  # tensors are copied in by load_state_dict
    info = checkpoint_info(ckpt_path, checkpoint)  # refuses a foreign file before building the model
    encoder = TextEncoder(info.model)
    prefix = "encoder."
    state = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    encoder.load_state_dict(state)
    return encoder


def checkpoint_model_config(ckpt_path: str | Path, *, fix: str = DEFAULT_FIX) -> dict[str, Any]:
    """The model config saved in a checkpoint (weights memory-mapped, not read); ``fix`` ends a read error."""
    return inspect_checkpoint(ckpt_path, fix=fix).model
