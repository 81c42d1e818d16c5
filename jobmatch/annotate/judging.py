"""Asking a judge about many (JD, talent A, talent B) items, and refusing a run where too few got a verdict."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from jobmatch.data.judgement import Item, Judge, Judgement
from jobmatch.errors import OptionError

Verdict = tuple[Judgement | None, str, str | None]  # (judgement, status, error)


def judge_items(judge: Judge, items: Sequence[Item]) -> list[Verdict]:
    """(judgement, status, error) per item: through ``judge_many`` when the judge batches, else one by one."""
    if hasattr(judge, "judge_many"):
        outcomes = judge.judge_many(items)  # type: ignore[attr-defined]
        return [(o.judgement, o.status, None if o.status == "ok" else f"{o.status}: {o.error}") for o in outcomes]
    out: list[Verdict] = []
    for query, a, b in tqdm(items, desc=f"judge ({judge.name})", unit="pair"):
        out.append((judge.judge(query, a, b), "ok", None))
    return out


def check_success(summary: dict[str, Any], failures: Sequence[dict[str, Any]], min_success: float,
                  run_dir: Path) -> None:
    """Raise a :class:`UserError` when fewer than ``min_success`` of the requested pairs got a verdict.

    A judge that is unreachable or answers nonsense would otherwise leave empty preference files
    behind a successful exit; the message gives the counts and the first error.
    """
    requested, annotated = summary["annotate/requested"], summary["annotate/annotated"]
    if requested == 0 or annotated >= min_success * requested:
        return
    first = failures[0]["error"] if failures else "none recorded"
    raise OptionError(
        f"{{min_success}}={min_success}: only {annotated}/{requested} pairs annotated "
        f"({summary['annotate/failed']} failed, {summary['annotate/unparseable']} of them unparseable); "
        f"first error: {first}; check the judge ({{base_url}}, {{model}}), see {run_dir / 'failures.jsonl'}"
    )
