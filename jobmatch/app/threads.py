"""CPU thread caps for the serving tasks (index, rank)."""

from __future__ import annotations

import torch

from jobmatch.retrieval.search import set_threads


def apply_threads(threads: int | None) -> None:
    """Cap torch's and FAISS's CPU threads (``None`` keeps their defaults)."""
    if threads is not None:
        torch.set_num_threads(int(threads))
        set_threads(int(threads))
