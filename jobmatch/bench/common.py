"""Shared pieces of the benchmark harness: side-by-side timing, isolated peak memory, results.

Every benchmark module ``jobmatch/bench/<name>.py`` exposes ``run(quick: bool = False) -> dict``
returning :func:`bench_result`'s dict. Figures are ratios of things measured side by side in one
run (alternating, several repetitions, medians), never a lone absolute time.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def alternate(
    contenders: Mapping[str, Callable[[], float | None]], repetitions: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Call every contender in turn (A B A B ...) and collect the seconds each call took.

    A contender may return its own measured seconds (e.g. excluding setup); when it returns
    ``None`` the wall time of the call is used. The first ``warmup`` rounds are discarded.

    Returns:
        {name: [seconds per repetition]} with ``repetitions`` samples each.
    """
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for rep in range(warmup + repetitions):
        for name, fn in contenders.items():
            start = time.perf_counter()
            measured = fn()
            elapsed = time.perf_counter() - start if measured is None else float(measured)
            if rep >= warmup:
                samples[name].append(elapsed)
    return samples


def run_isolated(module: str, function: str, kwargs: Mapping[str, Any], timeout: float = 900) -> dict[str, Any]:
    """Run ``module.function(**kwargs)`` in a fresh Python process and return its JSON-able dict.

    Peak memory is per process, so memory comparisons run each contender in its own process.
    The child's result gains ``peak_rss_mb`` (its own peak resident set size).
    """
    code = (
        "import json, resource, sys, importlib\n"
        f"fn = getattr(importlib.import_module({module!r}), {function!r})\n"
        "out = fn(**json.loads(sys.argv[1]))\n"
        "out['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print('@@RESULT@@' + json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(dict(kwargs))],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
    )
    for line in proc.stdout.splitlines():
        if line.startswith("@@RESULT@@"):
            return json.loads(line[len("@@RESULT@@") :])
    raise RuntimeError(f"{module}.{function} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def machine_info() -> dict[str, Any]:
    """CPU/GPU, thread count and library versions, recorded with every result file."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def target(label: str, value: float, op: str, goal: float, note: str = "") -> dict[str, Any]:
    """One target row: ``value op goal`` (op ``>=`` or ``<=``), e.g. ``target("bf16/fp32", 2.1, ">=", 1.8)``."""
    if op not in (">=", "<="):
        raise ValueError(f"op must be '>=' or '<=', got {op!r}")
    met = value >= goal if op == ">=" else value <= goal
    return {"target": label, "value": round(float(value), 4), "goal": f"{op} {goal}", "met": bool(met), "note": note}


def bench_result(
    name: str,
    title: str,
    settings: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    targets: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The dict every benchmark's ``run`` returns.

    Args:
        name: short id (the module name).
        title: one line for the table's heading.
        settings: model, data, batch size, sequence lengths, precision, repetitions, ...
        rows: the measured table, one dict per row (same keys in every row).
        targets: :func:`target` rows for the issue's goals (empty for informational benchmarks).
    """
    return {
        "name": name,
        "title": title,
        "settings": dict(settings),
        "rows": [dict(r) for r in rows],
        "targets": list(targets),
    }


def to_json(result: Mapping[str, Any]) -> str:
    """Stable JSON text for a result."""
    return json.dumps(result, indent=2, sort_keys=False, default=float)
