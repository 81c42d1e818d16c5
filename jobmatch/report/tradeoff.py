"""Who wins the retention/alignment trade-off: the Pareto front and method-vs-method dominance.

A point is one (method, learning rate) with its mean test nDCG@20 (retention) and mean test
alignment over seeds. Point ``a`` *dominates* point ``b`` when it is at least as good on both axes
and better on one. Method A *dominates* method B when every point of B is dominated by, or equal
to, some point of A: whatever learning rate B is run at, some rate of A is no worse on either axis.
The comparison is of means; the report's interval column says how much of it the noise allows.
"""

from __future__ import annotations

from jobmatch.report.sweep import Run, method_points

Point = tuple[str, float, float, float]  # (method, lr, nDCG@20, alignment)


def _covers(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """``a`` is at least as good as ``b`` on both axes."""
    return a[0] >= b[0] and a[1] >= b[1]


def points(runs: list[Run]) -> list[Point]:
    """Every (method, lr) point of the sweep."""
    return [(method, lr, ndcg, align) for method, pts in method_points(runs).items() for lr, ndcg, align in pts]


def pareto_front(pts: list[Point]) -> list[Point]:
    """The points no other point dominates, by decreasing nDCG@20."""
    def dominated(p: Point) -> bool:
        return any(_covers(q[2:], p[2:]) and q[2:] != p[2:] for q in pts)

    return sorted((p for p in pts if not dominated(p)), key=lambda p: (-p[2], -p[3]))


def method_dominates(pts: list[Point], a: str, b: str) -> bool:
    """Method ``a`` covers every point of method ``b`` (see the module docstring)."""
    a_pts = [p[2:] for p in pts if p[0] == a]
    b_pts = [p[2:] for p in pts if p[0] == b]
    return bool(a_pts and b_pts) and all(any(_covers(q, p) for q in a_pts) for p in b_pts)


def tradeoff_summary(runs: list[Run]) -> str:
    """Markdown: the Pareto front, and a matrix whose cell (A, B) says whether A dominates B."""
    pts = points(runs)
    if not pts:
        return ""
    methods = sorted({p[0] for p in pts})
    lines = ["## Trade-off", "", "Pareto front (test nDCG@20 vs test alignment, means over seeds):", ""]
    lines += [f"- {m} lr {lr:g}: nDCG@20 {ndcg:.4f}, alignment {align:.4f}" for m, lr, ndcg, align in pareto_front(pts)]
    lines += ["", "Does the row's method dominate the column's (some lr of the row is no worse on both axes "
              "than each lr of the column)?", "", "| dominates → | " + " | ".join(methods) + " |",
              "|---|" + "---|" * len(methods)]
    for a in methods:
        cells = ["·" if a == b else ("yes" if method_dominates(pts, a, b) else "no") for b in methods]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
