"""Fabricated run directories for the report tests."""

from __future__ import annotations

import json
from pathlib import Path

import yaml


def fake_run(root: Path, name: str, method: str, lr: float, seed: int, ndcg: float | None, align: float = 0.6) -> None:
    """A stage-2 run directory: its ``config.yaml`` and, unless ``ndcg`` is None (a failed run), ``results.json``."""
    run = root / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"seed": seed, "stage": {"name": method, "optim": {"lr": lr}}}))
    if ndcg is not None:
        (run / "results.json").write_text(json.dumps({
            "test/ndcg@20": ndcg, "test/recall@100": 0.9, "test/alignment": align, "delta/ndcg@20": ndcg - 0.5,
            "delta/alignment": align - 0.5, "stage1/ndcg@20": 0.5, "stage1/alignment": 0.5, "stage1/recall@100": 0.9}))
