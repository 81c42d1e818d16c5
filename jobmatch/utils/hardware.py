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


def cuda_has_fast_bf16() -> bool:
    """True when the visible CUDA GPU computes bf16 natively (Ampere and later), or when no GPU is visible
    here: a config composed on a login node for a GPU job assumes the GPUs of today's clusters."""
    import torch  # here, not at import: this module is read by the config resolvers before anything heavy

    if not torch.cuda.is_available():
        return True
    return bool(torch.cuda.is_bf16_supported())


def accelerator_has_fast_bf16(accelerator: str) -> bool:
    """Whether bf16 pays on the accelerator a run trains on (``trainer.accelerator``): ``gpu``/``cuda`` per
    :func:`cuda_has_fast_bf16`, ``cpu`` per :func:`cpu_has_fast_bf16`, ``auto`` as Lightning resolves it (a
    CUDA GPU when one is visible, else the CPU); other accelerators (mps, tpu): no."""
    import torch

    name = str(accelerator).lower()
    if name == "auto":
        name = "gpu" if torch.cuda.is_available() else "cpu"
    if name in ("gpu", "cuda"):
        return cuda_has_fast_bf16()
    if name == "cpu":
        return cpu_has_fast_bf16()
    return False
