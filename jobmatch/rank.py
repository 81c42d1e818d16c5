"""Hydra entry point: rank the talents of an index for job descriptions (the model is loaded once).

    python -m jobmatch.rank index=outputs/index/talents jd='"Postdoc in machine learning, Bristol"' k=20
    python -m jobmatch.rank index=outputs/index/talents jd=jds.txt format=json
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from jobmatch.app.config_tree import CONFIG_DIR
from jobmatch.app.rank_task import rank
from jobmatch.cli.errors import user_errors
from jobmatch.cli.main import run_command


@hydra.main(config_path=CONFIG_DIR, config_name="rank", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Entry point."""
    with user_errors():
        rank(cfg)


if __name__ == "__main__":
    run_command("rank")
