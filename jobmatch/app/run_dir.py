"""Run directories of the config (``paths.run_dir``) and the task wrapper of every entry point."""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from jobmatch.app.config_tree import root_nodes
from jobmatch.app.run_config import check_rerun, record_changes
from jobmatch.app.schema.names import named_options_in_logs
from jobmatch.cli.errors import USER_ERRORS, exit_with, full_errors, user_message
from jobmatch.utils.run import finish_wandb
from jobmatch.utils.writable import check_writable

log = logging.getLogger(__name__)
PROVENANCE_DIR = ".hydra"
# Hydra's record of the command (its run dir, and the files' contents), written once the run dir accepts the run
_provenance: dict[str, Any] = {}


def use_hydra_run_dir(cfg: DictConfig) -> None:
    """Under ``@hydra.main``: set ``paths.run_dir`` to Hydra's output dir (the job's dir in a multirun), and
    hold Hydra's record of the command (``.hydra/``) for :func:`resolve_run_dir` to write."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        keep_own_nodes(cfg, str(hydra_cfg.job.config_name))
        _provenance.clear()
        _provenance.update({"run_dir": Path(hydra_cfg.runtime.output_dir), "config.yaml": copy.deepcopy(cfg),
                            "hydra.yaml": OmegaConf.create({"hydra": hydra_cfg}),
                            "overrides.yaml": hydra_cfg.overrides.task})
        with open_dict(cfg):
            cfg.paths.run_dir = hydra_cfg.runtime.output_dir


def keep_own_nodes(cfg: DictConfig, root: str) -> None:
    """Drop the top-level nodes that the task root ``root`` does not compose: an experiment preset made for
    several tasks also sets nodes of the others (``experiment=demo`` sets ``stage2`` for the pipeline), which
    this task does not read and its run directory and W&B config should not record."""
    own = set(root_nodes(root))
    foreign = [str(key) for key in cfg if key not in own]
    if foreign:
        log.info("%s does not read %s (set by a preset or override for other tasks): left out", root,
                 ", ".join(foreign))
    with open_dict(cfg):
        for key in foreign:
            del cfg[key]


def write_provenance(run_dir: Path) -> None:
    """Write the held ``.hydra/`` files into ``run_dir`` when it is the command's own run directory (a step's
    directory gets none), once: after the run directory accepted the run, so a refused rerun changes nothing."""
    if _provenance.get("run_dir") is None or _provenance["run_dir"].resolve() != run_dir.resolve():
        return
    folder = run_dir / PROVENANCE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        OmegaConf.save(_provenance[name], folder / name)
    _provenance.clear()


def check_writable_options(folders: Mapping[str, str | Path | None]) -> None:
    """Refuse, in one line, the first ``option: folder`` that cannot be written (None: a folder this run does not
    use); the fix also names ``paths.output_dir``, the root the output and cache folders default to."""
    for option, folder in folders.items():
        if folder is not None:
            check_writable(option, folder, fix=f"set {option} (or paths.output_dir) to a folder you can write")


def fix_run_dir(cfg: DictConfig) -> Path:
    """Fix the value of ``paths.run_dir`` (e.g. a timestamp) so that every later read agrees; no writes."""
    with open_dict(cfg):
        cfg.paths.run_dir = str(cfg.paths.run_dir)
    return Path(cfg.paths.run_dir)


def resolve_run_dir(cfg: DictConfig, check: bool = False) -> Path:
    """Create ``paths.run_dir`` and save the resolved config there. ``check`` (resumable runs): first
    refuse a config that differs from the one saved there on the nodes the task reads (see ``run_config``)."""
    path = fix_run_dir(cfg)
    changes = check_rerun(cfg, path) if check else []
    path.mkdir(parents=True, exist_ok=True)
    record_changes(path, changes)
    OmegaConf.save(cfg, path / "config.yaml", resolve=True)
    write_provenance(path)
    return path


def task_wrapper(task: Callable[[DictConfig], dict[str, Any]]) -> Callable[[DictConfig], dict[str, Any]]:
    """Log a failing task with its run directory and always close W&B.

    A user error then ends the command with one ``error:`` line (status 2); any other error is
    re-raised, for its traceback to be printed once (see :mod:`jobmatch.cli.errors`). The library's warnings
    during the task name the options that set their arguments (:func:`named_options_in_logs`).
    """

    @functools.wraps(task)
    def wrapped(cfg: DictConfig) -> dict[str, Any]:
        try:
            with named_options_in_logs():
                return task(cfg)
        except Exception as error:
            log.error("task failed (%s); run directory: %s", type(error).__name__, cfg.paths.get("run_dir"))
            if isinstance(error, USER_ERRORS) and not full_errors():
                exit_with(user_message(error))  # a library OptionError: named as the options
            raise
        finally:
            _provenance.clear()  # a refused or failed run leaves its command unrecorded
            finish_wandb()

    return wrapped
