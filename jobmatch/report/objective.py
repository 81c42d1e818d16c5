"""The number a sweep optimises, computed from a run's flat results (the config's ``objective:`` node).

Every entry point returns one float to Hydra's sweeper. By default (``objective: null``) it is the
entry point's own metric (``stage.monitor`` for train, ``test/alignment`` for the pipeline,
``final/ndcg@20`` for the curriculum). An ``objective`` node picks another:

- ``kind: metric``: ``results[metric]``, as is.
- ``kind: alignment_retention``: stage-2 alignment subject to retention, the trade-off of the paper.
  Retention is the run's test nDCG@20 over its stage-1 checkpoint's (``test/ndcg@20 /
  stage1/ndcg@20``); every point of retention below ``retention_floor`` costs ``penalty`` points of
  alignment, so a run that forgets the rules cannot win on alignment alone, and the penalty stays
  continuous for the sampler.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

KINDS = ("metric", "alignment_retention")


def _number(results: Mapping[str, Any], key: str) -> float:
    """``results[key]`` as a finite float, or a ValueError naming the key and what is there."""
    if key not in results:
        shown = ", ".join(sorted(k for k in results if "/" in k)[:12])
        raise ValueError(f"objective needs '{key}' in the run's results, which hold: {shown or 'nothing'}")
    value = float(results[key])
    if not math.isfinite(value):
        raise ValueError(f"objective: results['{key}'] = {value} is not a finite number")
    return value


def retention(ndcg: float, stage1_ndcg: float) -> float:
    """The share of the stage-1 model's nDCG that a stage-2 run keeps (1.0 when stage 1 scored 0)."""
    return ndcg / stage1_ndcg if stage1_ndcg > 0 else 1.0


def alignment_with_retention_floor(alignment: float, kept: float, floor: float = 0.9, penalty: float = 5.0) -> float:
    """``alignment - penalty * max(0, floor - kept)``: alignment, penalised once retention drops below ``floor``.

    Example: alignment 0.70 at retention 0.86 with floor 0.9 and penalty 5 scores 0.70 - 5 * 0.04 = 0.50.
    """
    return alignment - penalty * max(0.0, floor - kept)


def objective_value(
    results: Mapping[str, Any], spec: Mapping[str, Any] | None, default_key: str | None = None
) -> float | None:
    """The float a sweeper optimises for one run.

    Args:
        results: the run's flat results (``results.json``).
        spec: the ``objective`` config node; None returns ``results[default_key]`` (None when absent,
            so that plain runs never fail here).
        default_key: the entry point's own metric.
    """
    if spec is None:
        value = results.get(default_key) if default_key else None
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None
    kind = str(spec.get("kind", "metric"))
    metric = str(spec.get("metric") or default_key or "")
    if kind == "metric":
        return _number(results, metric)
    if kind == "alignment_retention":
        key = str(spec.get("retention_metric", "ndcg@20"))
        kept = retention(_number(results, f"test/{key}"), _number(results, f"stage1/{key}"))
        return alignment_with_retention_floor(
            _number(results, metric or "test/alignment"),
            kept,
            floor=float(spec.get("retention_floor", 0.9)),
            penalty=float(spec.get("penalty", 5.0)),
        )
    raise ValueError(f"objective.kind='{kind}' is not one of {KINDS}")
