"""Hydra entry point: retrieval evaluation of a checkpoint against the test split, with baselines.

    python -m jobmatch.evaluate ckpt=outputs/runs/.../checkpoints/best.ckpt data.test_file=test.jsonl
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from jobmatch.app.config_tree import CONFIG_DIR
from jobmatch.app.evaluate_task import evaluate
from jobmatch.app.run_dir import task_wrapper, use_hydra_run_dir
from jobmatch.cli.main import run_command


@hydra.main(config_path=CONFIG_DIR, config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Entry point; returns test nDCG@20."""
    use_hydra_run_dir(cfg)
    return task_wrapper(evaluate)(cfg).get("test/ndcg@20")


if __name__ == "__main__":
    run_command("evaluate")
