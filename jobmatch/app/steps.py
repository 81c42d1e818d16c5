"""Resumable steps of the curriculum and the pipeline: per-step configs and config fingerprints.

A step runs a task (train, evaluate, annotate, audit, the curriculum) on the nodes of the command's config
that the task's own root composes (:func:`step_config`), so that its saved config, rerun check and W&B config
hold what that task reads and nothing of the other steps. A step writes into its own directory; ``step.json``
holds the fingerprint of the config it started with, ``results.json`` marks it finished. A rerun skips a
finished step made with the same config and refuses one made with another.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from jobmatch.app.config_tree import root_nodes
from jobmatch.app.run_config import IGNORED, covered, flatten
from jobmatch.errors import UserError

log = logging.getLogger(__name__)


def sub_config(cfg: DictConfig, run_dir: Path, **values: Any) -> DictConfig:
    """A copy of ``cfg`` for one step, writing into ``run_dir``, with dotted keys overridden."""
    sub = cfg.copy()
    with open_dict(sub):
        sub.paths.run_dir = str(run_dir)
        for dotted, value in values.items():
            node = sub
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node[key]
            node[leaf] = value
    return sub


def step_config(cfg: DictConfig, task: str, run_dir: Path, **values: Any) -> DictConfig:
    """:func:`sub_config` of the nodes of ``cfg`` that ``task``'s root (``conf/<task>.yaml``) composes."""
    own = OmegaConf.masked_copy(cfg, [str(key) for key in cfg if key in set(root_nodes(task))])
    OmegaConf.set_struct(own, True)
    return sub_config(own, run_dir, **values)


def read_nodes(cfg: DictConfig, task: str) -> dict[str, Any]:
    """The nodes of ``cfg`` that ``task``'s root composes and that define a result (not :data:`IGNORED`)."""
    keep = set(root_nodes(task))
    return {str(k): cfg[k] for k in cfg if k in keep and not covered(str(k), IGNORED)}


class StepConfigMismatch(UserError, RuntimeError):
    """A finished step in the run directory was made with another configuration."""


def step_fingerprint(node: dict[str, Any]) -> str:
    """sha256 of a dict of config nodes and values, resolved, without the keys that change no result
    (progress bar, logging; ``run_config.IGNORED``), first 16 hex digits."""
    plain = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v for k, v in node.items()}
    text = json.dumps({k: v for k, v in flatten(plain).items() if not covered(k, IGNORED)}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_step(step_dir: Path, key: str) -> None:
    """Raise if the step started (``step.json``) or finished with a config other than ``key``."""
    results, meta = step_dir / "results.json", step_dir / "step.json"
    if not results.exists() and not meta.exists():
        return
    made_with = json.loads(meta.read_text()).get("fingerprint") if meta.exists() else None
    if made_with != key:
        raise StepConfigMismatch(
            f"{step_dir}: holds a step made with another config (fingerprint {made_with}, now {key}); "
            "use a new paths.run_dir, or delete that step directory to redo it")


def done(step_dir: Path, key: str) -> dict[str, Any] | None:
    """The step's results when it finished with config ``key``; raise if it started with another."""
    check_step(step_dir, key)
    results = step_dir / "results.json"
    if not results.exists():
        return None
    log.info("step %s already done: skipped", step_dir.name)
    return json.loads(results.read_text())


def mark(step_dir: Path, key: str) -> None:
    """Record the config fingerprint of a step that is starting."""
    step_dir.mkdir(parents=True, exist_ok=True)
    (step_dir / "step.json").write_text(json.dumps({"fingerprint": key}) + "\n")
