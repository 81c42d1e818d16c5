"""Device selection shared by the serving entry points."""

from __future__ import annotations

import torch


def resolve_device(name: str | None) -> torch.device:
    """``auto`` (or ``None``): the GPU when one is present, else the CPU; otherwise ``name`` as given.

    Raises:
        ValueError: a CUDA device is asked for but none is available.
    """
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name} but no CUDA GPU is available; use device=auto or device=cpu")
    return device
