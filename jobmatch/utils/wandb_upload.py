"""What a W&B run uploads besides its metrics: the privacy settings, and the optional file artifacts.

Config-free: the tasks and the report pass plain values. ``wandb`` is imported only when a run exists.

Privacy. By default W&B records, and ``wandb sync`` uploads, the full command line (with absolute paths),
the program's path, the git remote and commit, the host name, the Python executable and the console output.
:data:`PRIVATE_SETTINGS` turns each of these off (checked against wandb 0.31's ``wandb.Settings``):

- ``x_disable_meta``: no environment record (command-line arguments, program, executable, working
  directory, git state, OS and hardware);
- ``disable_git``: no git remote and commit on the run record;
- ``disable_code``: no code or diff saved;
- ``host=""``: no host name on the run record;
- ``console="off"``: no console output (``output.log``).

:func:`private_config` also cuts absolute paths in the logged config to their last part
(``/home/me/data/train.jsonl`` becomes ``…/train.jsonl``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

PRIVATE_SETTINGS: dict[str, Any] = {
    "x_disable_meta": True,
    "disable_git": True,
    "disable_code": True,
    "host": "",
    "console": "off",
}
RESULT_FILES = ("results.json", "per_query.json", "audit_per_query.json", "*.md", "*.png")  # what log_files uploads
FIGURES = ("*.png",)


def private_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """``settings`` (a ``wandb.Settings`` mapping) with :data:`PRIVATE_SETTINGS` on top."""
    return {**(settings or {}), **PRIVATE_SETTINGS}


def private_config(node: Any) -> Any:
    """A config (nested dicts and lists) whose absolute path strings are cut to ``…/<last part>``."""
    if isinstance(node, Mapping):
        return {k: private_config(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [private_config(v) for v in node]
    if isinstance(node, str) and os.path.isabs(node):
        return f"…/{Path(node).name}"
    return node


def result_files(run_dir: Path, subdirs: Sequence[str] = ()) -> list[Path]:
    """The result files of a run directory (:data:`RESULT_FILES`), and of its ``subdirs``, sorted."""
    found: set[Path] = set()
    for folder in (run_dir, *(run_dir / s for s in subdirs)):
        for pattern in RESULT_FILES:
            found.update(p for p in folder.glob(pattern) if p.is_file())
    return sorted(found)


def upload_files(run: Any, run_dir: Path, files: Iterable[Path], kind: str = "results", images: bool = True) -> None:
    """Log ``files`` (paths under ``run_dir``) as one artifact of type ``kind`` named ``<kind>-<run id>``, each
    under its path relative to ``run_dir``; with ``images``, the figures among them also as images
    (``figures/<name>``).

    Offline, the artifact is kept with the run and uploaded by ``wandb sync``."""
    import wandb

    files = list(files)
    if not files:
        return
    artifact = wandb.Artifact(f"{kind}-{run.id}", type=kind)
    for path in files:
        artifact.add_file(str(path), name=path.relative_to(run_dir).as_posix())
    run.log_artifact(artifact)
    figures = {f"figures/{p.relative_to(run_dir).with_suffix('').as_posix()}": wandb.Image(str(p))
               for p in files if images and any(p.match(f) for f in FIGURES)}
    if figures:
        run.log(figures)


def upload_checkpoints(run: Any, checkpoints: Mapping[str, Path]) -> None:
    """Log the existing ``checkpoints`` ({alias: path}, e.g. best and last) as one ``model`` artifact
    ``model-<run id>``, with the aliases of the files it holds."""
    import wandb

    present = {alias: Path(p) for alias, p in checkpoints.items() if p and Path(p).is_file()}
    if not present:
        return
    artifact = wandb.Artifact(f"model-{run.id}", type="model")
    for alias, path in present.items():
        artifact.add_file(str(path), name=f"{alias}.ckpt")
    run.log_artifact(artifact, aliases=["latest", *present])
