"""Peak matmul throughput (fp32 and bf16 GFLOP/s), the denominator of model FLOP utilisation.

:func:`measure_peaks` times square matmuls; :func:`set_peak` records what the ``matmul`` benchmark
measured, and :func:`peak_gflops` hands it (or a quick measurement) to the benchmarks that report MFU.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator

import torch
import torch.utils.benchmark as benchmark

from experiments.benchmarks.common import alternate, median

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
SIZE = 2048  # large enough to reach the BLAS/oneDNN steady state, small enough for 2 cores
INNER = 2  # matmuls per timed call (each call times their mean)


@contextlib.contextmanager
def _no_tf32() -> Iterator[None]:
    """fp32 means fp32 on GPUs too (TF32 tensor cores off)."""
    if not torch.cuda.is_available():
        yield
        return
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def _timed_matmul(a: torch.Tensor, b: torch.Tensor, inner: int) -> Callable[[], float]:
    """A contender for :func:`alternate`: the mean seconds of ``inner`` products ``a @ b``, timed by
    ``torch.utils.benchmark`` (it synchronises CUDA and runs a few untimed products first) with this
    process's thread count (its default is one thread)."""
    timer = benchmark.Timer("torch.mm(a, b)", globals={"torch": torch, "a": a, "b": b},
                            num_threads=torch.get_num_threads())
    return lambda: timer.timeit(inner).mean


def measure_peaks(
    device: str = "cpu", *, size: int = SIZE, repetitions: int = 3, inner: int = INNER, quick: bool = False
) -> dict[tuple[str, str], float]:
    """Median GFLOP/s of ``size``-square matmuls per precision: ``{(device, "fp32"): ..., (device, "bf16"): ...}``.

    ``quick`` keeps the size (small matrices understate the peak) but times a single repetition.
    """
    if quick:
        repetitions, inner = 1, 1
    generator = torch.Generator().manual_seed(0)
    operands = {
        name: [torch.randn(size, size, generator=generator).to(device=device, dtype=dtype) for _ in range(2)]
        for name, dtype in DTYPES.items()
    }
    with _no_tf32():
        samples = alternate(
            {name: _timed_matmul(a, b, inner) for name, (a, b) in operands.items()},
            repetitions=repetitions,
            warmup=1,
        )
    flops = 2.0 * size**3
    return {(device, name): flops / median(seconds) / 1e9 for name, seconds in samples.items()}



_PEAKS: dict[tuple[str, str], float] = {}
PEAKS_ENV = "JOBMATCH_BENCH_PEAKS"  # {"cpu/fp32": GFLOP/s, ...}: the runner hands matmul's peaks to later processes


def set_peak(device: str, precision: str, gflops: float) -> None:
    """Record this machine's measured matmul throughput (GFLOP/s) for ``precision`` (fp32, bf16)."""
    _PEAKS[(device, precision)] = float(gflops)


def peak_gflops(device: str, precision: str) -> float:
    """The measured matmul GFLOP/s of ``precision`` on ``device``: recorded by the ``matmul`` benchmark
    (in this process, or in :data:`PEAKS_ENV`), else measured now, quickly."""
    if (device, precision) not in _PEAKS and os.environ.get(PEAKS_ENV):
        for key, value in json.loads(os.environ[PEAKS_ENV]).items():
            dev, _, prec = key.rpartition("/")
            _PEAKS.setdefault((dev, prec), float(value))
    if (device, precision) not in _PEAKS:
        for (dev, prec), value in measure_peaks(device, quick=True).items():
            _PEAKS.setdefault((dev, prec), value)
    return _PEAKS[(device, precision)]
