"""Hydra entry point: stage 1 over mining rounds (incremental or combined), evaluated after each round.

    python -m jobmatch.curriculum curriculum=combined curriculum.rounds=2 data=synthetic

The task is :func:`jobmatch.app.curriculum_task.curriculum`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from jobmatch.app.config_tree import CONFIG_DIR
from jobmatch.app.curriculum_task import curriculum
from jobmatch.app.run_dir import task_wrapper, use_hydra_run_dir
from jobmatch.cli.main import run_command
from jobmatch.report.objective import objective_value


@hydra.main(config_path=CONFIG_DIR, config_name="curriculum", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Entry point; returns ``objective`` (null: the last round's test nDCG@20) for sweepers."""
    use_hydra_run_dir(cfg)
    return objective_value(task_wrapper(curriculum)(cfg), cfg.get("objective"), default_key="final/ndcg@20")


if __name__ == "__main__":
    run_command("curriculum")
