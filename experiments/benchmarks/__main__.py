"""Run the benchmarks and write ``results.json`` and ``results.md``.

    python -m experiments.benchmarks                           # every benchmark (make bench)
    python -m experiments.benchmarks --only st_train st_eval   # some of them (or: ... st_train st_eval)
    python -m experiments.benchmarks --quick --out /tmp/bench  # smoke run: tiny models, 1 repetition

Benchmark modules are imported lazily by name, so that one that is missing or fails is listed as
``failed`` (with its error) rather than stopping the run; one that cannot run here (a peer library
not installed) raises :class:`~experiments.benchmarks.common.BenchSkipped` and is listed as ``skipped``.
With CUDA available, the modules whose ``run`` takes a ``device`` also run on the GPU, reported
as ``NAME@cuda``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import json
import os
import shlex
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from experiments.benchmarks.common import BenchSkipped, machine_info
from experiments.benchmarks.peaks import PEAKS_ENV
from experiments.benchmarks.report import to_markdown

# name -> module, in running order: matmul first, as the others report utilisation against its peaks.
REGISTRY: dict[str, str] = {
    "matmul": "experiments.benchmarks.matmul",
    "st_train": "experiments.benchmarks.st_train",
    "st_eval": "experiments.benchmarks.st_eval",
    "precision": "experiments.benchmarks.precision",
    "rankpo_reference": "experiments.benchmarks.rankpo_reference",
    "chunked_memory": "experiments.benchmarks.chunked_memory",
    "ann_scale": "experiments.benchmarks.ann_scale",
    "unique_texts": "experiments.benchmarks.unique_texts",
    "compile_step": "experiments.benchmarks.compile_step",
    "judge_throughput": "experiments.benchmarks.judge_throughput",
    "judge_retries": "experiments.benchmarks.judge_retries",
}
DEFAULT_OUT = Path("experiments/benchmarks")


def log(message: str) -> None:
    """Progress on stderr (stdout gets the final table)."""
    print(message, file=sys.stderr, flush=True)


def devices(choice: str) -> list[str]:
    """``cpu`` always; ``cuda`` too when asked for (``auto``: when available)."""
    if choice == "cpu":
        return ["cpu"]
    import torch

    has_cuda = torch.cuda.is_available()
    if choice == "cuda" and not has_cuda:
        raise SystemExit("--device cuda: CUDA is not available")
    return ["cpu", "cuda"] if has_cuda else ["cpu"]


def run_one(name: str, module_path: str, *, quick: bool, device: str = "cpu") -> dict[str, Any] | None:
    """Import and run one benchmark; never raises. ``None``: the module has no ``device`` variant."""
    label = name if device == "cpu" else f"{name}@{device}"
    start = time.perf_counter()
    try:
        module = importlib.import_module(module_path)
        fn = module.run
        kwargs: dict[str, Any] = {"quick": quick}
        if device != "cpu":
            if "device" not in inspect.signature(fn).parameters:
                return None
            kwargs["device"] = device
        result = dict(fn(**kwargs))
        result.update({"name": label, "status": "ok"})
    except BenchSkipped as skip:
        result = {"name": label, "status": "skipped", "error": str(skip)}
    except Exception as error:  # a benchmark's failure is a row of the report, not the end of the run
        result = {
            "name": label,
            "status": "failed",
            "error": f"{type(error).__name__}: {error}\n" + "".join(traceback.format_exception(error))[-3000:],
        }
    result["device"] = device
    result["elapsed_s"] = round(time.perf_counter() - start, 1)
    result.setdefault("title", label)
    gc.collect()
    return result


RESULT_TAG = "@@BENCH-RESULT@@"


def run_isolated_one(name: str, *, quick: bool, device: str = "cpu", timeout: float = 1800) -> dict[str, Any] | None:
    """:func:`run_one` in a fresh Python process: memory is returned after each benchmark, and a
    crash (or the kernel's OOM killer) costs one row, not the run. Its stderr (progress) streams."""
    command = [sys.executable, "-m", "experiments.benchmarks", "--child", name, "--device", device,
               *(["--quick"] * quick)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc = None
    for line in (proc.stdout if proc else "").splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    why = f"timed out after {timeout:.0f} s" if proc is None else f"the process exited with {proc.returncode}"
    if proc is not None and proc.returncode < 0:
        why += f" (signal {-proc.returncode}; SIGKILL: out of memory?)"
    return {
        "name": name if device == "cpu" else f"{name}@{device}",
        "title": name,
        "status": "failed",
        "error": why,
        "device": device,
        "elapsed_s": round(time.perf_counter() - start, 1),
    }


def write(out: Path, document: dict[str, Any]) -> str:
    """Write ``results.json`` and ``results.md`` into ``out``; return the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(document, indent=2, default=float) + "\n")
    markdown = to_markdown(document)
    (out / "results.md").write_text(markdown)
    return markdown


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny random models, 1 repetition")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: CPU, and the GPU variants too when CUDA is available",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a benchmark failed")
    parser.add_argument(
        "--in-process", action="store_true", help="run every benchmark in this process (default: each in a fresh one)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: run one benchmark, print its result
    args = parser.parse_args(argv)
    if args.child:
        args.selected = [args.child]
    args.selected = [*args.names, *args.only] or list(REGISTRY)
    unknown = [n for n in args.selected if n not in REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {', '.join(REGISTRY)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks, writing the results after each one; print the markdown."""
    args = parse_args(argv)
    if args.list:
        print("\n".join(REGISTRY))
        return 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:
        device = "cpu" if args.device == "auto" else args.device
        result = run_one(args.child, REGISTRY[args.child], quick=args.quick, device=device)
        print(RESULT_TAG + json.dumps(result, default=float), flush=True)
        return 0
    selected = [n for n in REGISTRY if n in args.selected]  # registry order: matmul first
    plan = [(name, device) for device in devices(args.device) for name in selected]
    document: dict[str, Any] = {
        "command": "python -m experiments.benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "results": [],
    }
    start = time.perf_counter()
    for i, (name, device) in enumerate(plan, 1):
        log(f"[{i}/{len(plan)}] {name} ({device}) ... (elapsed {time.perf_counter() - start:.0f} s)")
        if args.in_process:
            result = run_one(name, REGISTRY[name], quick=args.quick, device=device)
        else:
            result = run_isolated_one(name, quick=args.quick, device=device)
        if result is None:
            log(f"[{i}/{len(plan)}] {name}: no {device} variant")
            continue
        if result.get("peaks"):  # matmul's: the later benchmarks' MFU denominators, also in their processes
            peaks = {**json.loads(os.environ.get(PEAKS_ENV, "{}")), **result["peaks"]}
            os.environ[PEAKS_ENV] = json.dumps(peaks)
        document["results"].append(result)
        document["elapsed_s"] = round(time.perf_counter() - start, 1)
        write(args.out, document)
        log(
            f"[{i}/{len(plan)}] {name} ({device}): {result['status']} in {result['elapsed_s']:.0f} s "
            f"(elapsed {document['elapsed_s']:.0f} s)"
        )
    document["elapsed_s"] = round(time.perf_counter() - start, 1)
    markdown = write(args.out, document)
    print(markdown)
    log(f"results: {args.out / 'results.json'}, {args.out / 'results.md'}")
    failed = [r["name"] for r in document["results"] if r["status"] == "failed"]
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
