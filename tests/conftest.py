"""Shared fixtures: the real config tree composed for fast CPU runs on tiny models."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_SAMPLE = ROOT.parent / "shared" / "data" / "rankpo-sample"

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

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
    overrides: list[str] | None = None, run_dir: Path | None = None, config_name: str = "config"
) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` like the entry point does, with overrides."""
    extra = [f"paths.run_dir={run_dir}", f"paths.output_dir={run_dir.parent / 'outputs'}"] if run_dir else []
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=config_name, overrides=[*(overrides or []), *extra], return_hydra_config=False)


@pytest.fixture
def fast_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Factory: the config tree for a tiny, fast CPU run in ``tmp_path``."""

    def make(*overrides: str, run: str = "run") -> DictConfig:
        return compose_config([*FAST, *overrides], run_dir=tmp_path / run)

    return make


@pytest.fixture
def tiny_data() -> Path:
    """The built-in contrastive fixture (12 JDs, 1-3 positives, 6 negatives)."""
    return FIXTURES / "contrastive_tiny.jsonl"


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module of tiny-model tests: they gain nothing from more, and on a
    shared 2-core machine the extra threads spin. Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
