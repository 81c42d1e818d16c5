"""Hydra entry point: export a checkpoint's encoder as a standalone HF + sentence-transformers folder.

    python -m jobmatch.export ckpt=outputs/runs/.../checkpoints/best.ckpt out=outputs/export/matcher
    python -m jobmatch.export ckpt=null model=minilm out=outputs/export/minilm-base
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from jobmatch.app.config_tree import CONFIG_DIR
from jobmatch.app.export_task import export
from jobmatch.app.run_dir import use_hydra_run_dir
from jobmatch.cli.errors import user_errors
from jobmatch.cli.main import run_command


@hydra.main(config_path=CONFIG_DIR, config_name="export", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Entry point."""
    use_hydra_run_dir(cfg)
    with user_errors():
        export(cfg)


if __name__ == "__main__":
    run_command("export")
