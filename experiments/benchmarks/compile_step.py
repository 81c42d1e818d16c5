"""A compiled step (``model.compile``): torch.compile vs eager, side by side on the demo's stage-1 batches.

One process, one model: an eager module and a deep copy compiled in place
(:func:`jobmatch.model.encoder.compile_encoder`), fed the same training batches (real lengths, so
the compiled copy meets new shapes and compiles for dynamic shapes as a run would). Per precision:
- ``compile_s``: the extra seconds of the compiled copy's first ``warmup`` steps over the eager
  module's first steps (tracing, inductor code generation, C++ builds of the kernels), from a cold
  inductor cache: ``TORCHINDUCTOR_CACHE_DIR`` points into a fresh temporary folder for the run, as on a
  fresh machine (with the on-disk cache warm from an earlier run, compiling took about 10 s instead of
  about 100 s);
- ``step_vs_eager``: the median steady-state step of the compiled copy over the eager one,
  alternating batch by batch;
- ``break_even_steps``: compile_s / (eager step − compiled step), the training steps after which
  compiling has paid (null when the compiled step is not faster); ``net_s_per_run``: the seconds a
  run of ``RUN_STEPS`` steps saves (negative: loses). Validation and evaluation under ``no_grad``
  compile their own graph once more; that cost is not in these figures.

A timed step is the InfoNCE loss's forward and backward (the optimiser step is the same for both).
fp32 always; bf16 autocast too where the CPU has fast bf16 (``cpu_has_fast_bf16``) or on CUDA.

    .venv/bin/python -m experiments.benchmarks compile_step
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from experiments.benchmarks.common import bench_result, median, target
from experiments.benchmarks.training import compose
from experiments.benchmarks.unique_texts import batches as demo_batch_list
from experiments.benchmarks.unique_texts import cpu_trainer, demo_batches, stage1_overrides, timed_step
from jobmatch.model.encoder import compile_encoder
from jobmatch.utils.hardware import cpu_has_fast_bf16

MODE = "default"
RUN_STEPS = 150  # the demo's longest run: stage 2, 2400 judged pairs / batch 16


def settings_for(quick: bool) -> dict[str, Any]:
    """The benchmark's settings (full: the demo's stage 1; quick: tiny_bert, short texts)."""
    warmup, steps = (2, 2) if quick else (3, 6)
    return {
        **demo_batches(quick),
        "precision": "fp32, and bf16 autocast where the CPU has fast bf16",
        "compile_mode": MODE,
        "warmup_steps": warmup,
        "steps": steps,
        "repetitions": f"{warmup} warm-up batches (compile), then {steps} batches per variant, alternating",
        "timed": "forward + backward of the InfoNCE loss per batch; median",
    }


def measure(settings: dict[str, Any], precision: str, run_dir: str) -> dict[str, Any]:
    """Eager vs compiled on ``warmup + steps`` training batches at one precision."""
    import jobmatch.app.builders as entry

    cfg = compose(stage1_overrides(settings), run_dir)
    warmup, steps = settings["warmup_steps"], settings["steps"]
    batches = demo_batch_list(cfg, warmup + steps)[1]
    eager = entry.build_module(cfg).train()
    compiled = copy.deepcopy(eager)
    compile_encoder(compiled.encoder, MODE)
    for module in (eager, compiled):
        module.trainer = cpu_trainer()
    bf16 = precision == "bf16"
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for batch in batches:
        for name, module in (("eager", eager), ("compiled", compiled)):
            loss = lambda module=module, batch=batch: module.contrastive_loss(batch)[0]  # noqa: E731
            times[name].append(timed_step(loss, module, bf16))
    eager_step = median(times["eager"][warmup:])
    compiled_step = median(times["compiled"][warmup:])
    compile_s = sum(times["compiled"][:warmup]) - sum(times["eager"][:warmup])
    gain = eager_step - compiled_step
    return {
        "precision": precision,
        "eager_step_s": round(eager_step, 2),
        "compiled_step_s": round(compiled_step, 2),
        "compile_s": round(compile_s, 1),
        "step_vs_eager": round(compiled_step / eager_step, 3),
        "break_even_steps": max(0, round(compile_s / gain)) if gain > 0 else None,
        "net_s_per_run": round(RUN_STEPS * gain - compile_s, 1),
        "texts_per_step": round(float(np.mean([b.texts_encoded for b in batches])), 1),
        "steps": steps,
    }


@contextmanager
def cold_inductor_cache(directory: Path) -> Iterator[None]:
    """Point inductor's on-disk cache at ``directory`` (empty: every kernel is compiled anew), then restore it."""
    key = "TORCHINDUCTOR_CACHE_DIR"
    before = os.environ.get(key)
    os.environ[key] = str(directory)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def run(quick: bool = False) -> dict:
    """Compiled/eager step ratio, compile seconds and break-even steps per precision."""
    settings = settings_for(quick)
    precisions = ["fp32", "bf16"] if cpu_has_fast_bf16() else ["fp32"]
    settings["precisions"] = precisions
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp, cold_inductor_cache(Path(tmp) / "inductor"):
        rows = [measure(settings, precision, tmp) for precision in precisions]
    demo = precisions[-1]  # the precision the demo trains with here: bf16 where it is fast
    return bench_result(
        "compile_step",
        "A compiled step: torch.compile (in place) vs eager, stage-1 training batches",
        settings,
        rows,
        [
            item
            for row in rows
            for item in (
                target(f"compiled / eager step ({row['precision']})", row["step_vs_eager"], "<=", 0.8),
                target(
                    f"seconds saved by a {RUN_STEPS}-step run, compile included ({row['precision']})",
                    row["net_s_per_run"],
                    ">=",
                    0,
                    f"the demo's longest run is {RUN_STEPS} steps and trains in {demo} here: "
                    "compile is the default only where it pays within a run at that precision",
                ),
            )
        ],
    )
