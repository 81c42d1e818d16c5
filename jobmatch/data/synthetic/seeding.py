"""Derived random streams: one independent, reproducible generator per (seed, purpose, item).

Deriving a generator per item (talent, posting, pair) rather than drawing from one shared stream
keeps each object independent of how many others were made before it, so that generation is
stable under size changes and the judge's noise does not depend on call order.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *parts: object) -> int:
    """A 64-bit integer determined by ``seed`` and ``parts`` (stable across runs and platforms)."""
    key = "\x1f".join([str(seed), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


def rng_for(seed: int, *parts: object) -> random.Random:
    """A ``random.Random`` seeded from ``seed`` and ``parts``."""
    return random.Random(derive_seed(seed, *parts))
