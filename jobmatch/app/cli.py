"""Command-line helpers shared by the export, index and rank entry points.

:func:`user_errors` (from :mod:`jobmatch.app.error_report`) reports a bad input in one line, status 2.
"""

from __future__ import annotations

from typing import Any

import torch

from jobmatch.app.error_report import USER_ERRORS, user_errors
from jobmatch.app.rules import Num, show
from jobmatch.errors import ConfigError
from jobmatch.retrieval.search import set_threads

__all__ = ["USER_ERRORS", "alias_model_argument", "apply_threads", "int_option", "user_errors"]


def alias_model_argument(argv: list[str]) -> list[str]:
    """Rewrite ``model=DIR`` to ``model_dir=DIR``.

    Hydra treats ``model=`` as a choice of the ``model`` config group (conf/model/), so the index
    and rank configs name the export folder ``model_dir``; this keeps ``model=DIR`` working on
    their command lines.
    """
    return [f"model_dir={arg[len('model='):]}" if arg.startswith("model=") else arg for arg in argv]


def int_option(option: str, value: Any, example: str, *, low: int = 1) -> int:
    """``value`` of a command-line ``option`` as an int >= ``low``.

    Raises:
        ConfigError: ``option=value: expected an integer >= low; pass e.g. option=example`` (``k=abc``).
    """
    problem = Num(low=low, integer=True).problem(value)
    if problem:
        raise ConfigError(f"{option}={show(value)}: {problem}; pass e.g. {option}={example}")
    return int(value)


def apply_threads(threads: Any) -> None:
    """Cap torch's and FAISS's CPU threads (``None`` keeps their defaults); ``threads=0`` or a word is refused."""
    if threads is not None:
        threads = int_option("threads", threads, "1 (or threads=null: all cores)")
        torch.set_num_threads(threads)
        set_threads(threads)
