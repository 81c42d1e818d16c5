"""Resumable steps of the curriculum and the pipeline: per-step configs and config fingerprints.

A step writes into its own directory; ``step.json`` holds the fingerprint of the config it started
with, ``results.json`` marks it finished. A rerun skips a finished step made with the same config and
refuses one made with another.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

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
