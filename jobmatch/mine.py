"""Hydra entry point: mine hard negatives for the training JDs with a checkpoint.

    python -m jobmatch.mine ckpt=PATH data=synthetic_small mining.strategy=cluster
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from jobmatch.app.config_tree import CONFIG_DIR
from jobmatch.app.mine_task import mine
from jobmatch.app.run_dir import task_wrapper, use_hydra_run_dir
from jobmatch.cli.main import run_command


@hydra.main(config_path=CONFIG_DIR, config_name="mine", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Entry point."""
    use_hydra_run_dir(cfg)
    task_wrapper(mine)(cfg)


if __name__ == "__main__":
    run_command("mine")
