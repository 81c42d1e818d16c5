"""Make the configured data files exist: generate the synthetic market when the config asks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def prepare_data(data_cfg: Mapping[str, Any]) -> None:
    """Generate (or reuse) the synthetic dataset named by ``data.synthetic``; no-op for plain files."""
    spec = data_cfg.get("synthetic")
    if not spec:
        return
    from jobmatch.data.synthetic import ensure_dataset, preset

    config = preset(str(spec["preset"]), seed=int(spec.get("seed", 0)), **dict(spec.get("overrides") or {}))
    ensure_dataset(config, Path(str(data_cfg["dir"])))
