"""Hydra entry point: train one stage.  ``python -m jobmatch.train stage=contrastive data.train_file=PATH``."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from jobmatch.app.config_tree import CONFIG_DIR
from jobmatch.app.run_dir import task_wrapper, use_hydra_run_dir
from jobmatch.app.train_task import train
from jobmatch.cli.main import run_command
from jobmatch.report.objective import objective_value


@hydra.main(config_path=CONFIG_DIR, config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Entry point; returns the float a sweeper optimises: ``objective`` (null: the monitored metric)."""
    use_hydra_run_dir(cfg)
    results = task_wrapper(train)(cfg)
    return objective_value(results, cfg.get("objective"), default_key=str(cfg.stage.monitor))


if __name__ == "__main__":
    run_command("train")
