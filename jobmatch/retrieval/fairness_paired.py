"""Paired fairness differences between two models audited on the same JDs and talents.

Both audits rank the same talents for the same test JDs, so per JD the two models' values pair up:
the difference in the share of top-k memberships a counterfactual swap changes is the mean of per-JD
differences, with a paired bootstrap interval over JDs (:func:`jobmatch.utils.bootstrap.paired_bootstrap`);
the difference in the lowest impact ratio is recomputed on each resample of JDs, both models on the same
resample. A difference is *decided* when its 95% interval excludes 0. The lowest impact ratio is a
minimum over groups, so its bootstrap interval is biased towards lower values; the paired difference
inherits that bias from both sides, which partly cancels, but it is an approximation.
Keys (per attribute ``A``): ``audit/A/topk_change@k`` and ``audit/A/min_impact_ratio@k`` (A − B), each with
``_ci_low``/``_ci_high``, and ``audit/A/jds`` (the JDs shared).
"""

from __future__ import annotations

import numpy as np

from jobmatch.retrieval.fairness import paired_min_ratio
from jobmatch.retrieval.fairness_audit import AttributeValues, AuditValues
from jobmatch.utils.bootstrap import paired_bootstrap


def _aligned(v: AttributeValues, rows: list[int], groups: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(top [J, G], relevant [J, G]) on the shared JDs ``rows`` and the union of groups (absent: 0)."""
    top, rel = np.zeros((len(rows), len(groups)), np.int64), np.zeros((len(rows), len(groups)), np.int64)
    for g, name in enumerate(groups):
        if name in v.groups:
            top[:, g], rel[:, g] = v.top[k][rows, v.groups.index(name)], v.relevant[rows, v.groups.index(name)]
    return top, rel


def paired_audit(a: AuditValues, b: AuditValues, k: int = 20, n_bootstrap: int = 2000, seed: int = 0
                 ) -> dict[str, float]:
    """A − B for every attribute both audits carry, on the JDs both audited (empty when they share none)."""
    row_a, row_b = ({q: i for i, q in enumerate(x.queries)} for x in (a, b))
    shared = [q for q in a.queries if q in row_b]
    if not shared:
        return {}
    rows_a, rows_b = [row_a[q] for q in shared], [row_b[q] for q in shared]
    out: dict[str, float] = {}
    for attr in [x for x in a.attributes if x in b.attributes]:
        va, vb = a.attributes[attr], b.attributes[attr]
        name = f"topk_change@{k}"
        if name in va.shift and name in vb.shift:
            diffs = va.shift[name][rows_a] - vb.shift[name][rows_b]  # [J]
            est, low, high = paired_bootstrap(diffs, n_bootstrap=n_bootstrap, seed=seed)
            out |= {f"audit/{attr}/{name}": est, f"audit/{attr}/{name}_ci_low": low,
                    f"audit/{attr}/{name}_ci_high": high}
        if k in va.top and k in vb.top:
            groups = sorted(set(va.groups) | set(vb.groups))
            est, low, high = paired_min_ratio(_aligned(va, rows_a, groups, k), _aligned(vb, rows_b, groups, k),
                                              n_bootstrap=n_bootstrap, seed=seed)
            key = f"audit/{attr}/min_impact_ratio@{k}"
            out |= {key: est, f"{key}_ci_low": low, f"{key}_ci_high": high}
        out[f"audit/{attr}/jds"] = float(len(shared))
    return out

