"""Hydra entry point: embed a talent pool into a persistent FAISS index, or append new talents.

    python -m jobmatch.index model=outputs/export/matcher corpus=corpus.jsonl out=outputs/index/talents
    python -m jobmatch.index model=outputs/export/matcher corpus=new.jsonl out=outputs/index/talents append=true
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from jobmatch.app.config_tree import CONFIG_DIR
from jobmatch.app.index_task import build
from jobmatch.app.run_dir import use_hydra_run_dir
from jobmatch.cli.errors import user_errors
from jobmatch.cli.main import run_command


@hydra.main(config_path=CONFIG_DIR, config_name="index", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Entry point."""
    use_hydra_run_dir(cfg)
    with user_errors():
        build(cfg)


if __name__ == "__main__":
    run_command("index")
