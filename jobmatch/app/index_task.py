"""The index task: embed a talent pool into a persistent FAISS index, or append new talents
(``python -m jobmatch.index``)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from omegaconf import DictConfig

from jobmatch.app.run_dir import resolve_run_dir
from jobmatch.app.threads import apply_threads
from jobmatch.serving.device import resolve_device
from jobmatch.serving.indexing import index_talents
from jobmatch.utils.run import peak_memory_mb, write_results

log = logging.getLogger(__name__)


def build(cfg: DictConfig) -> dict[str, Any]:
    """Build or append; write ``results.json`` (counts, talents/s) in the run directory."""
    run_dir = resolve_run_dir(cfg)
    apply_threads(cfg.threads)
    device = resolve_device(cfg.device)
    report = index_talents(cfg.model_dir, cfg.corpus, cfg.out, append=bool(cfg.append), kind=str(cfg.kind),
                           batch_size=int(cfg.batch_size), bf16=bool(cfg.bf16), device=device)
    results: dict[str, Any] = {f"index/{k}": v for k, v in dataclasses.asdict(report).items()}
    results.update({"index/out": str(cfg.out), "index/device": str(device), "memory/peak_rss_mb": peak_memory_mb()})
    write_results(run_dir, results)
    print(f"{cfg.out}: {report.total} talents ({report.added} added, {report.skipped} already indexed; "
          f"{report.talents_per_s:.1f} talents/s on {device})")
    return results
