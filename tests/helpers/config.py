"""The real config tree composed as the entry points compose it, for fast CPU runs on tiny models."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from jobmatch.app.config_tree import compose_tree, config_dir

ROOT = Path(__file__).resolve().parents[2]
CONF = config_dir()
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_SAMPLE = ROOT.parent / "shared" / "data" / "rankpo-sample"

FAST = [
    "model=tiny_bert",
    "logger=none",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    f"data.train_file={FIXTURES / 'contrastive_tiny.jsonl'}",
    "data.batch_size=4",
]


def compose_config(
    overrides: list[str] | None = None,
    run_dir: Path | None = None,
    config_name: str = "train",
    *,
    output_dir: Path | None = None,
    hydra: bool = False,
) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` like the entry point does, with overrides.

    ``run_dir`` sets ``paths.run_dir`` and ``paths.output_dir`` (default: ``outputs`` beside the run dir);
    ``hydra`` keeps the ``hydra`` node (sweeper parameters).
    """
    extra = []
    if run_dir is not None:
        extra = [f"paths.run_dir={run_dir}", f"paths.output_dir={output_dir or run_dir.parent / 'outputs'}"]
    return compose_tree(config_name, [*(overrides or []), *extra], return_hydra_config=hydra)


def cfg_for(config_name: str, tmp_path: Path, *overrides: str) -> DictConfig:
    """``conf/<config_name>.yaml`` for a fast run in ``tmp_path/run`` (outputs in ``tmp_path/out``)."""
    return compose_config([*FAST, *overrides], tmp_path / "run", config_name, output_dir=tmp_path / "out")
