"""Where the config tree (``conf/``) lies, and composing it as the commands do (the resolvers are
registered by importing :mod:`jobmatch.app`).

In a source checkout the tree is the top-level ``conf/``; a built wheel ships the same files as
``jobmatch/conf/`` (see ``pyproject.toml``), so an installed package runs from any directory.
Tests, benchmarks and notebooks compose through :func:`compose_tree`, the commands through
``@hydra.main(config_path=CONFIG_DIR)``. Each task has a root of its own (``train.yaml``, ``evaluate.yaml``,
...) that composes only the groups the task reads; :func:`root_nodes` says which top-level nodes that is.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

_PACKAGE = Path(__file__).resolve().parents[1]


def config_dir() -> Path:
    """The folder holding the task roots (``train.yaml``, ...) and the config groups: the wheel's copy, else
    the checkout's."""
    shipped = _PACKAGE / "conf"
    return shipped if (shipped / "train.yaml").is_file() else _PACKAGE.parent / "conf"


CONFIG_DIR = str(config_dir())


def compose_tree(config_name: str = "train", overrides: Sequence[str] = (), *,
                 return_hydra_config: bool = False) -> DictConfig:
    """``<config dir>/<config_name>.yaml`` composed with ``overrides``, as ``@hydra.main`` composes it.

    ``return_hydra_config`` keeps the ``hydra`` node (launcher and sweeper settings).
    """
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides), return_hydra_config=return_hydra_config)


@functools.cache
def root_nodes(config_name: str) -> tuple[str, ...]:
    """The top-level nodes of the task root ``<config_name>.yaml`` composed without overrides (``hydra`` left
    out): what that task reads. Under ``@hydra.main`` (or any initialised Hydra) the running Hydra composes it."""
    if GlobalHydra.instance().is_initialized():
        return tuple(str(k) for k in compose(config_name=config_name))
    return tuple(str(k) for k in compose_tree(config_name))
