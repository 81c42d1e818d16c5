"""Launch a test's function in two processes as a cluster launcher would: each rank its own process, one port."""

from __future__ import annotations

import multiprocessing as mp
import socket
from collections.abc import Callable
from typing import Any


def free_port() -> int:
    """A TCP port on localhost that is free now (for torch.distributed's rendezvous)."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return free.getsockname()[1]


def run_ranks(target: Callable[..., None], *args: Any, world_size: int = 2, timeout: float = 600) -> None:
    """Run ``target(rank, port, *args, errors)`` in ``world_size`` spawned processes and wait for them.

    ``errors`` is a queue a rank puts its traceback on; the call asserts that no rank reported one and that
    every rank exited with status 0.
    """
    port = free_port()
    ctx = mp.get_context("spawn")
    errors = ctx.Queue()
    ranks = [ctx.Process(target=target, args=(r, port, *args, errors)) for r in range(world_size)]
    for process in ranks:
        process.start()
    for process in ranks:
        process.join(timeout=timeout)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert not found and all(p.exitcode == 0 for p in ranks), found
