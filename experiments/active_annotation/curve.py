"""The budget curve of active annotation: alignment and nDCG@20 kept vs judged training pairs, per sampler.

    python -m experiments.active_annotation.curve OUT        # after experiments/active_annotation/run.sh

Reads ``OUT/<sampler>-ppq<P>-seed<S>/`` (a stage-2 run: ``results.json``, ``per_query.json``) and the annotation
it trained on, ``OUT/annotate/<sampler>-ppq<P>-seed<S>/results.json`` (judge calls and characters). Writes
``OUT/curve.md`` (the table: mean ± sd over seeds, and paired differences with bootstrap 95% intervals over
seeds and test JDs, against uniform at the same budget and against uniform at the largest budget) and
``OUT/curve.png`` (alignment and nDCG@20 kept vs judged training pairs, one line per sampler).

A sampler *matches* uniform at the largest budget when its paired Δ alignment's 95% interval lies above
−MARGIN (non-inferiority, the criterion fixed before any run); *decided better/worse* when the interval
excludes 0.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jobmatch.cli.errors import user_errors
from jobmatch.errors import UserError
from jobmatch.utils.bootstrap import PER_QUERY_FILE, paired_bootstrap, paired_diffs

RUN = re.compile(r"^(?P<sampler>[a-z_]+)-ppq(?P<ppq>\d+)-seed(?P<seed>\d+)$")
MARGIN = 0.01  # non-inferiority margin on alignment (1 point)


@dataclass
class Point:
    """One run of the curve: a sampler at a budget (pairs per train JD) and a seed."""

    sampler: str
    ppq: int
    seed: int
    results: dict
    per_query: dict
    annotation: dict


def collect(out: Path) -> list[Point]:
    """Every finished run under ``out`` whose directory name follows ``<sampler>-ppq<P>-seed<S>``."""
    points = []
    for run in sorted(out.iterdir()):
        match = RUN.match(run.name)
        if not match or not (run / "results.json").exists() or not (run / PER_QUERY_FILE).exists():
            continue
        notes = out / "annotate" / run.name / "results.json"
        points.append(Point(match["sampler"], int(match["ppq"]), int(match["seed"]),
                            json.loads((run / "results.json").read_text()),
                            json.loads((run / PER_QUERY_FILE).read_text())["test"],
                            json.loads(notes.read_text()) if notes.exists() else {}))
    return points


def _mean_sd(values: list[float]) -> str:
    values = [v for v in values if isinstance(v, int | float)]
    if not values:
        return "—"
    return f"{statistics.mean(values):.4f}" + (f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else "")


def _count(values: list) -> str:
    """Counts over seeds: the value when every seed has the same, else min–max."""
    values = [int(v) for v in values if isinstance(v, int | float)]
    if not values:
        return "—"
    return str(values[0]) if len(set(values)) == 1 else f"{min(values)}–{max(values)}"


def _delta(a: list[Point], b: list[Point], metric: str = "alignment") -> tuple[float, float, float] | None:
    """Paired Δ (a − b) of ``metric`` over seeds and test JDs, or None when they share none."""
    if not a or not b:
        return None
    diffs, weights = paired_diffs({p.seed: p.per_query for p in a}, {p.seed: p.per_query for p in b}, metric)
    return paired_bootstrap(diffs, weights) if diffs.size else None


def _fmt_delta(found: tuple[float, float, float] | None) -> str:
    return "—" if found is None else f"{found[0]:+.4f} [{found[1]:+.4f}, {found[2]:+.4f}]"


def kept(point: Point) -> float:
    """The share of stage-1 test nDCG@20 that the run keeps."""
    return point.results["test/ndcg@20"] / point.results["stage1/ndcg@20"]


def curve_table(points: list[Point]) -> str:
    """Markdown: one row per (sampler, budget)."""
    cells: dict[tuple[str, int], list[Point]] = {}
    for p in points:
        cells.setdefault((p.sampler, p.ppq), []).append(p)
    top = max((ppq for s, ppq in cells if s == "uniform"), default=None)
    lines = ["| sampler | pairs/JD | seeds | judged train pairs | judge calls (all splits) | alignment | intent | "
             "nDCG@20 kept | Δ alignment vs uniform, same budget | Δ alignment vs uniform at max budget | "
             "train calls per point of alignment gain |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (sampler, ppq), group in sorted(cells.items(), key=lambda kv: (kv[0][0] != "uniform", kv[0])):
        calls = [p.annotation.get("annotate/train_judge_calls") for p in group]
        gains = [p.results.get("delta/alignment") for p in group]
        per_point = [c / (100 * g) for c, g in zip(calls, gains, strict=True) if c and isinstance(g, float) and g > 0]
        same = _delta(group, cells.get(("uniform", ppq), [])) if sampler != "uniform" else None
        vs_top = _delta(group, cells.get(("uniform", top), [])) if top is not None and (sampler, ppq) != (
            "uniform", top) else None
        verdict = ""
        if vs_top is not None:
            verdict = " matches" if vs_top[1] > -MARGIN else " does not match"
        judged = _count([p.annotation.get("annotate/train_pairs") for p in group])
        lines.append(
            f"| {sampler} | {ppq} | {len(group)} | {judged} | "
            f"{_count([p.annotation.get('annotate/judge_calls') for p in group])} | "
            f"{_mean_sd([p.results.get('test/alignment') for p in group])} | "
            f"{_mean_sd([p.results.get('test/alignment_intent') for p in group])} | "
            f"{_mean_sd([kept(p) for p in group])} | {_fmt_delta(same)} | {_fmt_delta(vs_top)}{verdict} | "
            f"{_mean_sd(per_point)} |")
    return "\n".join(lines)


def curve_figure(points: list[Point], path: Path) -> Path | None:
    """Alignment and nDCG@20 kept (means over seeds) vs judged training pairs, one line per sampler."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not points:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for sampler in sorted({p.sampler for p in points}):
        budgets = sorted({p.ppq for p in points if p.sampler == sampler})
        rows = [[p for p in points if p.sampler == sampler and p.ppq == b] for b in budgets]
        x = [np.mean([p.annotation.get("annotate/train_judge_calls", np.nan) for p in r]) for r in rows]
        axes[0].plot(x, [np.mean([p.results["test/alignment"] for p in r]) for r in rows], marker="o", label=sampler)
        axes[1].plot(x, [np.mean([kept(p) for p in r]) for r in rows], marker="o", label=sampler)
    for ax, label in zip(axes, ("test alignment", "test nDCG@20 kept (share of stage 1)"), strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("judged training pairs")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.active_annotation.curve")
    parser.add_argument("out", type=Path, help="the study's output directory (OUT of run.sh)")
    args = parser.parse_args(argv)
    points = collect(args.out)
    if not points:
        raise UserError(f"{args.out}: no finished <sampler>-ppq<P>-seed<S> runs found; run "
                        "experiments/active_annotation/run.sh with OUT set to it first")
    table = curve_table(points)
    figure = curve_figure(points, args.out / "curve.png")
    text = ["# Active annotation: the budget curve", "", table, ""]
    text += [f"![budget curve]({figure.name})"] if figure else []
    (args.out / "curve.md").write_text("\n".join(text) + "\n")
    print(table)


if __name__ == "__main__":
    with user_errors():
        main()
