"""Peak matmul throughput of this machine (fp32 and bf16), the denominator of model FLOP utilisation.

Square ``n x n`` matmuls, fp32 and bf16 alternating, several repetitions, medians. The measured
GFLOP/s are recorded (:func:`jobmatch.bench.common.set_peak`) so that the benchmarks that run after
this one report their model FLOP utilisation against them.

    .venv/bin/python -m jobmatch.bench --only matmul
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from jobmatch.bench.common import alternate, bench_result, median, set_peak

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
    """A contender for :func:`alternate`: the mean seconds of ``inner`` products ``a @ b``."""
    import time

    def call() -> float:
        sync = torch.cuda.synchronize if a.is_cuda else (lambda: None)
        sync()
        start = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b)
        sync()
        return (time.perf_counter() - start) / inner

    return call


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


def run(quick: bool = False, device: str = "cpu") -> dict[str, Any]:
    """Measure and record the fp32 and bf16 matmul peaks on ``device``."""
    size = 512 if quick else SIZE
    repetitions = 1 if quick else 5
    peaks = measure_peaks(device, size=size, repetitions=repetitions)
    for (dev, precision), gflops in peaks.items():
        set_peak(dev, precision, gflops)
    fp32 = peaks[(device, "fp32")]
    rows = [
        {
            "precision": precision,
            "matrix": f"{size}x{size}",
            "gflops": round(gflops, 1),
            "vs_fp32": round(gflops / fp32, 2),
        }
        for (_, precision), gflops in peaks.items()
    ]
    result = bench_result(
        "matmul",
        "Peak matmul throughput (the denominator of model FLOP utilisation)",
        {
            "device": device,
            "operation": f"torch.mm of two {size}x{size} matrices (2·n³ FLOPs)",
            "precision": list(DTYPES),
            "repetitions": repetitions,
            "timing": f"fp32 and bf16 alternating, {INNER if not quick else 1} products per call, median GFLOP/s, "
            "1 warm-up round discarded",
            "threads": torch.get_num_threads(),
        },
        rows,
    )
    result["peaks"] = {f"{dev}/{precision}": gflops for (dev, precision), gflops in peaks.items()}
    return result
