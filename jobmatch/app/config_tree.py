"""Where the config tree (``conf/``) lies, and composing it as the commands do (the resolvers are
registered by importing :mod:`jobmatch.app`).

In a source checkout the tree is the top-level ``conf/``; a built wheel ships the same files as
``jobmatch/conf/`` (see ``pyproject.toml``), so an installed package runs from any directory.
Tests, benchmarks and notebooks compose through :func:`compose_tree`, the commands through
``@hydra.main(config_path=CONFIG_DIR)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

_PACKAGE = Path(__file__).resolve().parents[1]


def config_dir() -> Path:
    """The folder holding ``config.yaml`` and the config groups: the wheel's copy, else the checkout's."""
    shipped = _PACKAGE / "conf"
    return shipped if (shipped / "config.yaml").is_file() else _PACKAGE.parent / "conf"


CONFIG_DIR = str(config_dir())


def compose_tree(config_name: str = "config", overrides: Sequence[str] = (), *,
                 return_hydra_config: bool = False) -> DictConfig:
    """``<config dir>/<config_name>.yaml`` composed with ``overrides``, as ``@hydra.main`` composes it.

    ``return_hydra_config`` keeps the ``hydra`` node (launcher and sweeper settings).
    """
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides), return_hydra_config=return_hydra_config)
