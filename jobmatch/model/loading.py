"""Load the encoder of any stage checkpoint (or the untrained base model) safely."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from jobmatch.model.encoder import TextEncoder


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True``: tensors and primitives only, no code execution."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_encoder(ckpt_path: str | Path | None, model_cfg: Mapping[str, Any] | None = None) -> TextEncoder:
    """The encoder of a Lightning checkpoint of either stage, or a fresh one from ``model_cfg``.

    The architecture comes from the checkpoint's saved ``model`` hyperparameters, so the current
    config cannot silently mismatch the weights.
    """
    if ckpt_path is None:
        if model_cfg is None:
            raise ValueError("load_encoder needs a checkpoint or a model config")
        return TextEncoder(model_cfg)
    checkpoint = read_checkpoint(ckpt_path)
    hparams = checkpoint.get("hyper_parameters", {})
    if "model" not in hparams:
        raise ValueError(f"{ckpt_path}: not a jobmatch checkpoint (no 'model' hyperparameters)")
    encoder = TextEncoder(hparams["model"])
    prefix = "encoder."
    state = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    encoder.load_state_dict(state)
    return encoder


def checkpoint_model_config(ckpt_path: str | Path) -> dict[str, Any]:
    """The model config saved in a checkpoint."""
    return dict(read_checkpoint(ckpt_path)["hyper_parameters"]["model"])
