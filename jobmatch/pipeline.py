"""Hydra entry point: the whole method in one command, resumable step by step.

    python -m jobmatch.pipeline                       # the embedded default (make demo)
    python -m jobmatch.pipeline data=synthetic model=minilm stage@stage2=simrankpo
    python -m jobmatch.pipeline paths.run_dir=outputs/runs/pipeline/<time>   # resume after a stop

The steps and their resumption: :mod:`jobmatch.app.pipeline_task`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from jobmatch.app.config_tree import CONFIG_DIR
from jobmatch.app.pipeline_task import pipeline
from jobmatch.app.run_dir import task_wrapper, use_hydra_run_dir
from jobmatch.cli.main import run_command
from jobmatch.report.objective import objective_value


@hydra.main(config_path=CONFIG_DIR, config_name="pipeline", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Entry point; returns ``objective`` (null: the stage-2 test alignment) for sweepers."""
    use_hydra_run_dir(cfg)
    return objective_value(task_wrapper(pipeline)(cfg), cfg.get("objective"), default_key="test/alignment")


if __name__ == "__main__":
    run_command("pipeline")
