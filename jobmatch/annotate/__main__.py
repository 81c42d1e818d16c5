"""Hydra entry point: ``python -m jobmatch.annotate ckpt=PATH data=synthetic_small judge=offline``."""

from __future__ import annotations

from typing import Any

import hydra
from omegaconf import DictConfig

from jobmatch.app.validation import validate_config
from jobmatch.utils.error_report import hydra_command
from jobmatch.utils.run import resolve_run_dir, task_wrapper, use_hydra_run_dir, write_results


def run(cfg: DictConfig) -> dict[str, Any]:
    """Annotate into the run directory and write ``results.json``."""
    validate_config(cfg)
    from jobmatch.annotate.pipeline import annotate

    run_dir = resolve_run_dir(cfg)
    summary = annotate(cfg, run_dir)
    write_results(run_dir, summary)
    return summary


@hydra.main(config_path="../../conf", config_name="annotate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Entry point."""
    use_hydra_run_dir(cfg)
    task_wrapper(run)(cfg)


if __name__ == "__main__":
    hydra_command(main)
