"""One intra-op thread for tiny-model tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread: tiny models gain nothing from more, and on a shared 2-core machine the
    extra threads spin. The ``one_thread`` fixture (conftest) applies it to a whole test module."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
