"""A rerun into a run directory that already holds a run: compare its ``config.yaml`` with the new config.

A resumed or repeated run must compute what its directory says it computed. The keys that define the
computation (the nodes of the task's own config, less where things go, how they are logged and printed,
and the resume switches: :func:`task_nodes`) must equal the saved ones; a difference is refused before
anything is written, unless the key is listed in ``resume.allow_changes`` (then the change is applied and
appended to ``config_changes.json``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from jobmatch.errors import ConfigError

log = logging.getLogger(__name__)

# Keys (or prefixes) that do not change what a run computes.
IGNORED = (
    "paths",
    "logger",
    "hydra",
    "tags",
    "task_name",
    "launch",
    "objective",
    "acceptance",
    "ckpt_path",
    "resume",
    "checkpoint",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.log_every_n_steps",
)
ABSENT = "<absent>"
Change = tuple[str, Any, Any]  # (dotted key, saved value, new value)


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``{"a.b.c": leaf}``; lists are leaves."""
    if not isinstance(node, dict):
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def covered(key: str, prefixes: Iterable[str]) -> bool:
    """Whether ``key`` is one of ``prefixes`` or lies under one of them."""
    return any(key == p or key.startswith(f"{p}.") for p in prefixes)


def task_nodes(cfg: DictConfig) -> list[str]:
    """The top-level nodes of a task's config that define what it computes: those its root composed (a step
    of a curriculum or pipeline gets the nodes of its own task's root), less :data:`IGNORED`."""
    return [str(key) for key in cfg if not covered(str(key), IGNORED)]


def config_changes(saved: DictConfig, new: DictConfig, keys: Sequence[str] | None = None) -> list[Change]:
    """The computation-defining keys whose values differ, sorted; ``keys``: only these top-level nodes.

    A key absent from one side and null on the other is no change: an option added to the configs since the run
    was made, at its null default, leaves the computation as it was."""
    old_flat = flatten(OmegaConf.to_container(saved, resolve=True))
    new_flat = flatten(OmegaConf.to_container(new, resolve=True))
    changes = []
    for key in sorted(old_flat.keys() | new_flat.keys()):
        if covered(key, IGNORED) or (keys is not None and not covered(key, keys)):
            continue
        old, value = old_flat.get(key, ABSENT), new_flat.get(key, ABSENT)
        if (old is None and value == ABSENT) or (old == ABSENT and value is None):  # an option added since, at null
            continue
        if old != value:
            changes.append((key, old, value))
    return changes


def allowed_changes(cfg: DictConfig) -> list[str]:
    """``resume.allow_changes``: the keys (or prefixes) a rerun may change."""
    return [str(k) for k in (cfg.get("resume") or {}).get("allow_changes") or []]


def check_rerun(cfg: DictConfig, run_dir: Path) -> list[Change]:
    """The allowed changes against ``run_dir/config.yaml`` (none when there is none yet), on the nodes ``cfg``
    has (:func:`task_nodes`: a node the saved config holds besides them, as one written by an older root that
    composed every group, is not read); raise :class:`ConfigError` naming the keys that differ and are not
    allowed. Writes nothing."""
    path = run_dir / "config.yaml"
    if not path.exists():
        return []
    changes = config_changes(OmegaConf.load(path), cfg, task_nodes(cfg))
    allow = allowed_changes(cfg)
    refused = [c for c in changes if not covered(c[0], allow)]
    if refused:
        listed = ", ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in refused)
        names = ",".join(key for key, _, _ in refused)
        raise ConfigError(
            f"paths.run_dir={run_dir}: holds a run made with another config ({listed}); "
            f"use a new paths.run_dir, or rerun with 'resume.allow_changes=[{names}]' to apply the change"
        )
    return changes


def record_changes(run_dir: Path, changes: list[Change]) -> None:
    """Append applied changes to ``run_dir/config_changes.json`` and log them."""
    if not changes:
        return
    path = run_dir / "config_changes.json"
    history = json.loads(path.read_text()) if path.exists() else []
    history += [{"key": key, "old": old, "new": new} for key, old, new in changes]
    path.write_text(json.dumps(history, indent=2, default=str) + "\n")
    for key, old, new in changes:
        log.warning("rerun in %s changes %s: %r -> %r (resume.allow_changes)", run_dir, key, old, new)
