"""Hydra entry point: ``python -m jobmatch.annotate ckpt=PATH data=synthetic_small judge=offline``."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from jobmatch.app.annotate_task import run
from jobmatch.app.config_tree import CONFIG_DIR
from jobmatch.app.run_dir import task_wrapper, use_hydra_run_dir
from jobmatch.cli.main import run_command


@hydra.main(config_path=CONFIG_DIR, config_name="annotate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Entry point."""
    use_hydra_run_dir(cfg)
    task_wrapper(run)(cfg)


if __name__ == "__main__":
    run_command("annotate")
