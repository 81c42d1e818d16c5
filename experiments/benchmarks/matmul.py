"""Peak matmul throughput of this machine (fp32 and bf16), the denominator of model FLOP utilisation.

Square ``n x n`` matmuls, fp32 and bf16 alternating, several repetitions, medians. The measured
GFLOP/s are recorded (:func:`experiments.benchmarks.peaks.set_peak`) so that the benchmarks that run after
this one report their model FLOP utilisation against them.

    .venv/bin/python -m experiments.benchmarks --only matmul
"""

from __future__ import annotations

from typing import Any

import torch

from experiments.benchmarks.common import bench_result
from experiments.benchmarks.peaks import DTYPES, INNER, SIZE, measure_peaks, set_peak


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
