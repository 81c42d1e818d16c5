"""What the machine offers: whether bf16 arithmetic is fast on this CPU.

bf16 autocast pays only on CPUs with native bf16 matrix instructions (AVX-512 BF16 or AMX): there a
LoRA training step runs about 2x faster than fp32. Elsewhere bf16 is emulated, and a bf16 matmul was
measured about 50x slower than fp32 (1024x1024, AVX2-only EPYC, torch 2.13), so fp32 is the choice.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

FAST_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
OVERRIDE_VAR = "JOBMATCH_CPU_BF16"  # "1" / "0": force the answer (tests, or a CPU the check misreads)


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no flags known, so no fast bf16 assumed
        return frozenset()
    line = next((row for row in text.splitlines() if row.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def cpu_has_fast_bf16() -> bool:
    """True when this CPU computes bf16 matrix products natively (``JOBMATCH_CPU_BF16`` overrides)."""
    forced = os.environ.get(OVERRIDE_VAR)
    if forced in ("0", "1"):
        return forced == "1"
    return any(flag in _cpu_flags() for flag in FAST_BF16_FLAGS)
