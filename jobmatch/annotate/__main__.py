"""Hydra entry point: ``python -m jobmatch.annotate ckpt=PATH data=synthetic_small judge=offline``."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from jobmatch.app.annotate_task import run
from jobmatch.app.error_report import hydra_command
from jobmatch.app.run_dir import task_wrapper, use_hydra_run_dir


@hydra.main(config_path="../../conf", config_name="annotate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Entry point."""
    use_hydra_run_dir(cfg)
    task_wrapper(run)(cfg)


if __name__ == "__main__":
    hydra_command(main)
