"""The index task: embed a talent pool into a persistent FAISS index, or append new talents
(``python -m jobmatch.index``)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

from jobmatch.app.run_dir import resolve_run_dir
from jobmatch.app.threads import apply_threads, int_option
from jobmatch.serving.device import resolve_device
from jobmatch.serving.errors import InputError
from jobmatch.serving.indexing import index_talents
from jobmatch.utils.run import peak_memory_mb, write_results

log = logging.getLogger(__name__)


def trainer_arguments(node: Any) -> dict[str, Any] | None:
    """The ``trainer`` option as keyword arguments of a Lightning Trainer (None: one device)."""
    if node is None:
        return None
    arguments = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    if not isinstance(arguments, dict):
        raise InputError(f"trainer={node}: expected Trainer arguments such as {{devices: 2, strategy: ddp}}")
    return arguments


def build(cfg: DictConfig) -> dict[str, Any]:
    """Build or append; write ``results.json`` (counts, talents/s) in the run directory."""
    batch_size = int_option("batch_size", cfg.batch_size, "64")
    apply_threads(cfg.threads)
    run_dir = resolve_run_dir(cfg)
    device = resolve_device(cfg.device)
    shard_size = int_option("shard_size", cfg.shard_size, "100000")
    report = index_talents(cfg.model_dir, cfg.corpus, cfg.out, append=bool(cfg.append), kind=str(cfg.kind),
                           batch_size=batch_size, bf16=bool(cfg.bf16), device=device,
                           shard_size=shard_size, trainer=trainer_arguments(cfg.get("trainer")))
    results: dict[str, Any] = {f"index/{k}": v for k, v in dataclasses.asdict(report).items()}
    results.update({"index/out": str(cfg.out), "index/device": str(device), "memory/peak_rss_mb": peak_memory_mb()})
    write_results(run_dir, results)
    print(f"{cfg.out}: {report.total} talents ({report.added} added, {report.skipped} already indexed; "
          f"{report.talents_per_s:.1f} talents/s on {device})")
    return results
