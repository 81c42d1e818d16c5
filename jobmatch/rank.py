"""Hydra entry point: rank the talents of an index for job descriptions (the model is loaded once).

    python -m jobmatch.rank index=outputs/index/talents jd='"Postdoc in machine learning, Bristol"' k=20
    python -m jobmatch.rank index=outputs/index/talents jd=jds.txt format=json
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from jobmatch.app.cli import alias_model_argument, user_errors
from jobmatch.app.error_report import hydra_command
from jobmatch.app.rank_task import rank


@hydra.main(config_path="../conf", config_name="rank", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Entry point."""
    with user_errors():
        rank(cfg)


if __name__ == "__main__":
    sys.argv = alias_model_argument(sys.argv)
    hydra_command(main)
