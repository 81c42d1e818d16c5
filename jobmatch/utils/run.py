"""results.json, resource figures and closing the W&B run: what every run writes, config-free."""

from __future__ import annotations

import json
import math
import resource
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobmatch.utils.atomic import write_text_atomic


def peak_memory_mb() -> float:
    """Peak resident memory of this process, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def to_float(value: Any) -> float | None:
    """A metric as a plain float (tensors included), None when not a finite number."""
    try:
        number = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def parameter_counts(module: Any) -> dict[str, int]:
    """``total`` and ``trainable`` (requires grad) parameter counts of a torch module (with LoRA: the adapter)."""
    params = list(module.parameters())
    return {"total": sum(p.numel() for p in params), "trainable": sum(p.numel() for p in params if p.requires_grad)}


def write_results(run_dir: Path, metrics: Mapping[str, Any]) -> Path:
    """Write flat metrics (``{"test/ndcg@20": 0.7, ...}``) to ``run_dir/results.json``, atomically."""
    path = Path(run_dir) / "results.json"
    write_text_atomic(path, json.dumps(dict(metrics), indent=2, sort_keys=True) + "\n", "results file")
    return path


def finish_wandb() -> None:
    """Close the W&B run if one is open (so that the next run of a multirun starts clean)."""
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
