"""Shared fixtures: the real config tree composed for fast CPU runs on tiny models (helpers: ``tests.helpers``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from tests.helpers import FAST, FIXTURES, compose_config
from tests.helpers import one_thread as one_torch_thread


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
    with one_torch_thread():
        yield
