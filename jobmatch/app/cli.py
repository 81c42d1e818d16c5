"""Command-line helpers shared by the export, index and rank entry points.

:func:`user_errors` (from :mod:`jobmatch.app.error_report`) reports a bad input in one line, status 2.
"""

from __future__ import annotations

import torch

from jobmatch.app.error_report import USER_ERRORS, user_errors
from jobmatch.retrieval.search import set_threads

__all__ = ["USER_ERRORS", "alias_model_argument", "apply_threads", "user_errors"]


def alias_model_argument(argv: list[str]) -> list[str]:
    """Rewrite ``model=DIR`` to ``model_dir=DIR``.

    Hydra treats ``model=`` as a choice of the ``model`` config group (conf/model/), so the index
    and rank configs name the export folder ``model_dir``; this keeps ``model=DIR`` working on
    their command lines.
    """
    return [f"model_dir={arg[len('model='):]}" if arg.startswith("model=") else arg for arg in argv]


def apply_threads(threads: int | None) -> None:
    """Cap torch's and FAISS's CPU threads (``None`` keeps their defaults)."""
    if threads is not None:
        torch.set_num_threads(int(threads))
        set_threads(int(threads))
