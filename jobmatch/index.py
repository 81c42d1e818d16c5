"""Hydra entry point: embed a talent pool into a persistent FAISS index, or append new talents.

    python -m jobmatch.index model=outputs/export/matcher corpus=corpus.jsonl out=outputs/index/talents
    python -m jobmatch.index model=outputs/export/matcher corpus=new.jsonl out=outputs/index/talents append=true
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from typing import Any

import hydra
from omegaconf import DictConfig

from jobmatch.serving.cli import alias_model_argument, apply_threads, user_errors
from jobmatch.serving.device import resolve_device
from jobmatch.serving.indexing import index_talents
from jobmatch.utils.error_report import hydra_command
from jobmatch.utils.run import peak_memory_mb, resolve_run_dir, use_hydra_run_dir, write_results

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


@hydra.main(config_path="../conf", config_name="index", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Entry point."""
    use_hydra_run_dir(cfg)
    with user_errors():
        build(cfg)


if __name__ == "__main__":
    sys.argv = alias_model_argument(sys.argv)
    hydra_command(main)
