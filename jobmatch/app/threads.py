"""CPU thread caps and integer options of the serving tasks (index, rank), checked in one line."""

from __future__ import annotations

from typing import Any

import torch

from jobmatch.errors import ConfigError
from jobmatch.retrieval.search import set_threads
from jobmatch.utils.option_rules import Num, show


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
