"""Save and restore every random generator with the checkpoint, so that a resumed run matches."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback


def _numpy_state() -> tuple[str, torch.Tensor, int, int, float]:
    """NumPy's global state with its key array as a tensor (loadable with ``weights_only=True``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    return str(name), torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)


class RngStateCallback(Callback):
    """Keep Python, NumPy and torch (CPU and CUDA) RNG states in checkpoints.

    Lightning restores model, optimiser, scheduler and loop state, but not the generators that
    drive dropout; without them a resumed run drifts from an uninterrupted one.
    """

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "python": random.getstate(),
            "numpy": _numpy_state(),
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        random.setstate(state_dict["python"])
        name, keys, pos, has_gauss, cached = state_dict["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
