"""Paired method-vs-method comparisons with bootstrap 95% intervals over test JDs (and seeds).

Every stage-2 run writes ``per_query.json`` beside ``results.json``: per test JD its nDCG@20, its
alignment (the mean win over that JD's judged pairs, with the pair count) and intent agreement, and per
out-of-distribution JD its nDCG@20. Two methods are evaluated
on the same JDs and the same pairs, so their difference is paired: per JD, ``d_j = metric_A − metric_B``;
the estimate is the mean of ``d_j`` over JDs (weighted by the JD's pairs for alignment, so that it
equals the difference of the alignments). The interval is a percentile bootstrap that resamples JDs,
not pairs (pairs of one JD are not independent); with several seeds it resamples seeds and JDs.
A difference is *decided* when its 95% interval excludes 0.

At matched alignment the methods are compared where their learning-rate curves reach the same test
alignment: each method's per-JD values are interpolated linearly between the two neighbouring learning
rates whose mean alignments bracket a common level (the middle of the range both curves cover). This is
an approximation: it assumes each JD's values move linearly between neighbouring learning rates.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass

import numpy as np

from jobmatch.report.sweep import Run, grouped
from jobmatch.utils.bootstrap import PER_QUERY_FILE, PerJD, excludes_zero, paired_bootstrap, paired_diffs

METRICS = (("ndcg@20", "nDCG@20"), ("alignment", "alignment"), ("alignment_intent", "intent"),
           ("ood_ndcg@20", "OOD nDCG@20"))  # runs made before intent / OOD values were kept lack those rows


def read_per_query(run: Run) -> PerJD | None:
    """The run's per-JD test values, or None when it wrote none (an older run, or evaluation was off)."""
    path = run.path / PER_QUERY_FILE
    return json.loads(path.read_text())["test"] if path.exists() else None


@dataclass
class Cell:
    """One method at one learning rate: mean test alignment and per-seed per-JD values."""

    alignment: float
    seeds: dict[int, PerJD]


def cells(runs: list[Run]) -> dict[str, dict[float, Cell]]:
    """{method: {lr: Cell}} of the finished runs that wrote per-JD values."""
    out: dict[str, dict[float, Cell]] = {}
    for (method, lr), group in grouped(runs).items():
        values = {r.seed if r.seed is not None else i: v for i, r in enumerate(group) if (v := read_per_query(r))}
        aligns = [r.metrics["test/alignment"] for r in group if isinstance(r.metrics.get("test/alignment"), float)]
        if values and lr is not None:
            out.setdefault(method, {})[lr] = Cell(float(np.mean(aligns)) if aligns else math.nan, values)
    return out


def interpolate(curve: dict[float, Cell], level: float) -> dict[int, PerJD] | None:
    """Per-seed per-JD values at mean alignment ``level``, linear between the neighbouring lrs that bracket it
    (on the metrics both lrs' runs kept: runs made before a metric was kept lack it)."""
    lrs = sorted(curve)
    for lo, hi in itertools.pairwise(lrs):
        a_lo, a_hi = curve[lo].alignment, curve[hi].alignment
        if min(a_lo, a_hi) <= level <= max(a_lo, a_hi) and a_lo != a_hi:
            t = (level - a_lo) / (a_hi - a_lo)
            seeds = sorted(set(curve[lo].seeds) & set(curve[hi].seeds))
            return {s: {m: {j: (1 - t) * curve[lo].seeds[s][m][j] + t * curve[hi].seeds[s][m][j]
                            for j in curve[lo].seeds[s][m] if j in curve[hi].seeds[s][m]}
                        for m in curve[lo].seeds[s] if m in curve[hi].seeds[s]} for s in seeds} or None
    exact = [lr for lr in lrs if curve[lr].alignment == level]
    return curve[exact[0]].seeds if exact else None


def matched_level(a: dict[float, Cell], b: dict[float, Cell]) -> float | None:
    """The middle of the alignment range both lr curves cover, or None when they do not overlap."""
    ranges = [[c.alignment for c in curve.values()] for curve in (a, b)]
    low, high = max(min(r) for r in ranges), min(max(r) for r in ranges)
    return (low + high) / 2 if low <= high and math.isfinite(low + high) else None


@dataclass
class Comparison:
    """A − B on one metric at one setting, with its paired bootstrap interval."""

    a: str
    b: str
    setting: str
    metric: str
    estimate: float
    low: float
    high: float
    n_seeds: int
    n_jds: int

    @property
    def decided(self) -> bool:
        """The 95% interval excludes 0."""
        return excludes_zero(self.low, self.high)


def compare(a: str, b: str, setting: str, x: dict[int, PerJD], y: dict[int, PerJD], metric: str) -> Comparison | None:
    """The paired comparison of two sets of per-seed per-JD values on ``metric`` (None without shared JDs)."""
    if not all(metric in v for v in (*x.values(), *y.values())):
        return None
    diffs, weights = paired_diffs(x, y, metric)
    if diffs.size == 0:
        return None
    estimate, low, high = paired_bootstrap(diffs, weights)
    return Comparison(a, b, setting, metric, estimate, low, high, diffs.shape[0], diffs.shape[1])


def comparisons(runs: list[Run]) -> list[Comparison]:
    """Every pair of methods at every shared learning rate (each of :data:`METRICS` their runs wrote) and at
    matched alignment (nDCG@20)."""
    by_method = cells(runs)
    out = []
    for a, b in itertools.combinations(sorted(by_method), 2):
        for lr in sorted(set(by_method[a]) & set(by_method[b])):
            for metric, _ in METRICS:
                found = compare(a, b, f"lr {lr:g}", by_method[a][lr].seeds, by_method[b][lr].seeds, metric)
                out += [found] if found else []
        level = matched_level(by_method[a], by_method[b])
        x, y = (interpolate(by_method[m], level) for m in (a, b)) if level is not None else (None, None)
        if x and y:
            found = compare(a, b, f"alignment {level:.3f}", x, y, "ndcg@20")
            out += [found] if found else []
    return out


def comparison_table(runs: list[Run]) -> str:
    """Markdown: the paired differences with their 95% intervals, then in words which exclude zero."""
    found = comparisons(runs)
    if not found:
        return ("Paired comparisons: none (needs two methods whose runs wrote per_query.json at a shared "
                "learning rate).")
    labels = dict(METRICS)
    lines = ["| A − B | at | metric | difference | 95% CI (paired bootstrap) | seeds × JDs | decided |",
             "|---|---|---|---|---|---|---|"]
    for c in found:
        lines.append(f"| {c.a} − {c.b} | {c.setting} | {labels[c.metric]} | {c.estimate:+.4f} | "
                     f"[{c.low:+.4f}, {c.high:+.4f}] | {c.n_seeds} × {c.n_jds} | {'yes' if c.decided else 'no'} |")
    decided = [c for c in found if c.decided]
    words = [f"{c.a} {'above' if c.estimate > 0 else 'below'} {c.b} in {labels[c.metric]} at {c.setting} "
             f"({c.estimate:+.4f})" for c in decided]
    lines += ["", f"Decided (95% interval excludes 0): {'; '.join(words)}." if words else
              "Decided (95% interval excludes 0): none; every difference is within the noise of the test JDs.",
              f"Undecided: {len(found) - len(decided)} of {len(found)} differences. Intervals resample test JDs "
              "(and seeds when there are several); at matched alignment, per-JD values are interpolated linearly "
              "between neighbouring learning rates (an approximation)."]
    return "\n".join(lines)
