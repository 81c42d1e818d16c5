"""Hydra entry point: the fairness audit of a checkpoint on the test split.

    python -m jobmatch.audit ckpt=outputs/runs/.../checkpoints/best.ckpt data=synthetic_small

Writes ``results.json`` (``audit/<attribute>/…`` and, with ``fairness.judge_pairs_per_query``, ``judge/…``),
``audit.md`` and ``audit.png`` into its run directory and prints a short fairness block.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from jobmatch.app.audit_task import audit
from jobmatch.app.config_tree import CONFIG_DIR
from jobmatch.app.run_dir import task_wrapper, use_hydra_run_dir
from jobmatch.cli.main import run_command


@hydra.main(config_path=CONFIG_DIR, config_name="audit", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Entry point."""
    use_hydra_run_dir(cfg)
    task_wrapper(audit)(cfg)


if __name__ == "__main__":
    run_command("audit")
