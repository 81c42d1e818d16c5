"""Collect ``results.json`` of many runs (a multirun directory, a glob) into tables and figures.

Each run is labelled by its resolved ``config.yaml``: the method (``stage.name``), the learning
rate (``stage.optim.lr``) and the seed; a pipeline's own directory, whose results are its stage 2's, by
``stage2`` (its step directories below it are not runs of their own). Runs without results are listed
as missing or failed, never a crash.
"""

from __future__ import annotations

import glob
import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jobmatch.errors import UserError

METRICS = ("test/ndcg@20", "test/recall@100", "test/alignment", "test/alignment_intent", "test_ood/ndcg@20",
           "delta/ndcg@20", "delta/alignment")
# the offline judge's ceilings on the test pairs (whole texts; the text the encoder receives), beside intent
CEILINGS = ("test/alignment_ceiling", "test/alignment_visible_ceiling", "test/alignment_visible_intent")


@dataclass
class Run:
    """One run directory: its labels and metrics (empty when it has no results)."""

    path: Path
    method: str
    lr: float | None
    seed: int | None
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"


def is_pipeline_root(run_dir: Path) -> bool:
    """Whether ``run_dir`` is a pipeline's own directory (its steps started below it); a step's directory, a
    stage-1 training run inside a pipeline included, is not."""
    return (run_dir / "stage1" / "step.json").exists() and (run_dir / "config.yaml").exists()


def _labels(run_dir: Path) -> tuple[str, float | None, int | None]:
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.exists():
        return run_dir.name, None, None
    cfg = yaml.safe_load(cfg_path.read_text()) or {}
    stage = cfg.get("stage2" if is_pipeline_root(run_dir) and cfg.get("stage2") else "stage") or {}
    lr = (stage.get("optim") or {}).get("lr")
    return str(stage.get("name", run_dir.name)), float(lr) if lr is not None else None, cfg.get("seed")


def collect_runs(patterns: list[str]) -> list[Run]:
    """Every run directory under or matching ``patterns`` (a dir holding config.yaml counts as a run)."""
    dirs: set[Path] = set()
    for pattern in patterns:
        for match in glob.glob(pattern) or []:
            path = Path(match)
            candidates = [path] if (path / "config.yaml").exists() else [p.parent for p in path.rglob("config.yaml")]
            dirs.update(c for c in candidates if ".hydra" not in c.parts)
    roots = {d for d in dirs if is_pipeline_root(d)}
    dirs = {d for d in dirs if not any(root in d.parents for root in roots)}  # a pipeline's steps: in its row
    runs = []
    for run_dir in sorted(dirs):
        method, lr, seed = _labels(run_dir)
        results = run_dir / "results.json"
        if not results.exists():
            runs.append(Run(run_dir, method, lr, seed, status="missing results (failed or unfinished)"))
            continue
        try:
            metrics = json.loads(results.read_text())
        except json.JSONDecodeError as err:
            runs.append(Run(run_dir, method, lr, seed, status=f"unreadable results.json ({err.msg})"))
            continue
        if not any(key in metrics for key in METRICS):
            runs.append(Run(run_dir, method, lr, seed, metrics, status="no stage-2 metrics"))
            continue
        runs.append(Run(run_dir, method, lr, seed, metrics))
    return runs


def _mean_std(values: list[float]) -> str:
    values = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def _interval(metrics: list[dict[str, Any]], key: str) -> str:
    """The bootstrap interval ``[low, high]`` of ``key`` (mean of the bounds over seeds), or —."""
    lows = [m.get(f"{key}_ci_low") for m in metrics]
    highs = [m.get(f"{key}_ci_high") for m in metrics]
    if any(not isinstance(v, int | float) for v in lows + highs):
        return "—"
    return f"[{statistics.mean(lows):.3f}, {statistics.mean(highs):.3f}]"


def grouped(runs: list[Run]) -> dict[tuple[str, float | None], list[Run]]:
    """Finished runs by (method, learning rate)."""
    groups: dict[tuple[str, float | None], list[Run]] = defaultdict(list)
    for run in runs:
        if run.status == "ok":
            groups[(run.method, run.lr)].append(run)
    return dict(sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or 0.0)))


def sweep_table(runs: list[Run]) -> str:
    """Markdown: method × learning rate, mean ± std over seeds; the stage-1 start as the first row."""
    header = ("| method | lr | seeds | nDCG@20 | Recall@100 | alignment | intent | OOD nDCG@20 | Δ nDCG@20 "
              "| Δ alignment | alignment 95% CI | judge ceiling | visible ceiling | visible intent |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    finished = [r for r in runs if r.status == "ok"]
    if finished:
        start = finished[0].metrics
        cells = [_mean_std([start.get(m.replace("test/", "stage1/", 1).replace("test_ood/", "stage1/test_ood/", 1))])
                 for m in METRICS if not m.startswith("delta/")]
        ceilings = [_mean_std([start.get(m.replace("test/", "stage1/", 1))]) for m in CEILINGS]
        lines.append("| stage 1 (start) | — | — | " + " | ".join(cells) +
                     f" | — | — | {_interval([start], 'stage1/alignment')} | " + " | ".join(ceilings) + " |")
    for (method, lr), group in grouped(runs).items():
        cells = [_mean_std([r.metrics.get(m) for r in group]) for m in METRICS]
        cells.append(_interval([r.metrics for r in group], "test/alignment"))
        cells += [_mean_std([r.metrics.get(m) for r in group]) for m in CEILINGS]
        lr_cell = f"{lr:g}" if lr is not None else "—"
        lines.append(f"| {method} | {lr_cell} | {len(group)} | " + " | ".join(cells) + " |")
    problems = [r for r in runs if r.status not in ("ok", "no stage-2 metrics")]
    if problems:
        lines += ["", "Runs without results:"] + [f"- {r.path}: {r.status}" for r in problems]
    return "\n".join(lines)


def method_points(runs: list[Run]) -> dict[str, list[tuple[float, float, float]]]:
    """{method: [(lr, mean test nDCG@20, mean test alignment), ...]} over seeds, sorted by lr."""
    by_method: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for (method, lr), group in grouped(runs).items():
        ndcg = statistics.mean(r.metrics.get("test/ndcg@20", math.nan) for r in group)
        align = statistics.mean(r.metrics.get("test/alignment", math.nan) for r in group)
        by_method[method].append((lr or 0.0, ndcg, align))
    return {method: sorted(points) for method, points in sorted(by_method.items())}


def sweep_figures(runs: list[Run], out_dir: Path) -> list[Path]:
    """alignment vs lr, nDCG@20 vs lr, and the trade-off plane (nDCG@20 vs alignment), one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_method = method_points(runs)
    if not by_method:
        return []
    start = next(r.metrics for r in runs if r.status == "ok")
    paths = []
    for name, x_of, y_of, xlabel, ylabel, logx in (
        ("alignment_vs_lr.png", lambda p: p[0], lambda p: p[2], "learning rate", "test alignment", True),
        ("ndcg_vs_lr.png", lambda p: p[0], lambda p: p[1], "learning rate", "test nDCG@20", True),
        ("tradeoff.png", lambda p: p[1], lambda p: p[2], "test nDCG@20 (retention)", "test alignment", False),
    ):
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for method, points in by_method.items():
            ax.plot([x_of(p) for p in points], [y_of(p) for p in points], marker="o", label=method)
        if name == "tradeoff.png" and "stage1/ndcg@20" in start:
            ax.scatter([start["stage1/ndcg@20"]], [start.get("stage1/alignment", math.nan)], marker="*", s=150,
                       color="black", label="stage 1")
        if logx:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / name
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def find_runs(patterns: list[str]) -> list[Run]:
    """The runs under ``patterns``; a pattern that matches nothing, or no run at all, is a :class:`UserError`."""
    for pattern in patterns:
        if not glob.glob(pattern):
            raise UserError(f"{pattern}: no such directory (nothing matches); give run or multirun directories")
    runs = collect_runs(patterns)
    if not runs:
        raise UserError(f"{' '.join(patterns)}: no run directories (folders with a config.yaml) found; "
                        "give the sweep's multirun directory")
    return runs
