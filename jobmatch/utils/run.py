"""Run directories, results.json, resource figures and the task wrapper of every entry point."""

from __future__ import annotations

import functools
import json
import logging
import math
import resource
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from jobmatch.utils.error_report import USER_ERRORS, exit_with, full_errors
from jobmatch.utils.run_config import check_rerun, record_changes

log = logging.getLogger(__name__)


def use_hydra_run_dir(cfg: DictConfig) -> None:
    """Under ``@hydra.main``: set ``paths.run_dir`` to Hydra's output dir (the job's dir in a multirun)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        with open_dict(cfg):
            cfg.paths.run_dir = HydraConfig.get().runtime.output_dir


def fix_run_dir(cfg: DictConfig) -> Path:
    """Fix the value of ``paths.run_dir`` (e.g. a timestamp) so that every later read agrees; no writes."""
    with open_dict(cfg):
        cfg.paths.run_dir = str(cfg.paths.run_dir)
    return Path(cfg.paths.run_dir)


def resolve_run_dir(cfg: DictConfig, check: bool = False, keys: Sequence[str] | None = None) -> Path:
    """Create ``paths.run_dir`` and save the resolved config there. ``check`` (resumable runs): first
    refuse a config that differs from the one saved there (on ``keys``, default all; see ``run_config``)."""
    path = fix_run_dir(cfg)
    changes = check_rerun(cfg, path, keys) if check else []
    path.mkdir(parents=True, exist_ok=True)
    record_changes(path, changes)
    OmegaConf.save(cfg, path / "config.yaml", resolve=True)
    return path


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


def write_results(run_dir: Path, metrics: Mapping[str, Any]) -> Path:
    """Write flat metrics (``{"test/ndcg@20": 0.7, ...}``) to ``run_dir/results.json``, atomically."""
    path = Path(run_dir) / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dict(metrics), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def finish_wandb() -> None:
    """Close the W&B run if one is open (so that the next run of a multirun starts clean)."""
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()


def task_wrapper(task: Callable[[DictConfig], dict[str, Any]]) -> Callable[[DictConfig], dict[str, Any]]:
    """Log a failing task with its run directory and always close W&B.

    A user error then ends the command with one ``error:`` line (status 2); any other error is
    re-raised, for its traceback to be printed once (see :mod:`jobmatch.utils.error_report`).
    """

    @functools.wraps(task)
    def wrapped(cfg: DictConfig) -> dict[str, Any]:
        try:
            return task(cfg)
        except Exception as error:
            log.error("task failed (%s); run directory: %s", type(error).__name__, cfg.paths.get("run_dir"))
            if isinstance(error, USER_ERRORS) and not full_errors():
                exit_with(str(error))
            raise
        finally:
            finish_wandb()

    return wrapped
