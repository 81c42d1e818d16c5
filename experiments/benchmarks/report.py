"""Markdown for benchmark results: a summary of every target, then one section per benchmark."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

STATUS_MARK = {"ok": "ok", "failed": "FAILED", "skipped": "skipped"}


def fmt(value: Any) -> str:
    """One table cell: floats to 4 significant digits, booleans as yes/no, lists joined."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={fmt(v)}" for k, v in value.items())
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """A markdown table of ``rows`` (columns: every key, in order of first appearance)."""
    if not rows:
        return []
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row.get(c)) for c in columns) + " |" for row in rows]
    return lines


def settings_line(settings: Mapping[str, Any]) -> str:
    """The settings of a benchmark on one line: ``**model**: minilm; **batch**: 16 ...``."""
    return "; ".join(f"**{key}**: {fmt(value)}" for key, value in settings.items())


def target_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The targets of one result as table rows (with ``met`` spelled out)."""
    return [
        {
            "target": t["target"],
            "value": t["value"],
            "goal": t["goal"],
            "result": "met" if t["met"] else "not met",
            **({"note": t["note"]} if t.get("note") else {}),
        }
        for t in result.get("targets", [])
    ]


def summary_rows(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every target of every benchmark, and one row per benchmark that did not run."""
    rows: list[dict[str, Any]] = []
    for result in results:
        status = result.get("status", "ok")
        if status != "ok":
            rows.append(
                {
                    "benchmark": result["name"],
                    "target": "–",
                    "value": None,
                    "goal": "–",
                    "result": STATUS_MARK.get(status, status),
                }
            )
            continue
        for t in target_rows(result):
            rows.append(
                {
                    "benchmark": result["name"],
                    "target": t["target"],
                    "value": t["value"],
                    "goal": t["goal"],
                    "result": t["result"],
                }
            )
    return rows


def section(result: Mapping[str, Any]) -> list[str]:
    """One benchmark: heading, status, settings line, rows table, targets table."""
    status = result.get("status", "ok")
    title = result.get("title") or result["name"]
    lines = [f"## {result['name']}: {title}", ""]
    elapsed = result.get("elapsed_s")
    lines.append(
        f"Status: **{STATUS_MARK.get(status, status)}**"
        + (f" ({elapsed:.0f} s)" if isinstance(elapsed, int | float) else "")
    )
    lines.append("")
    if status != "ok":
        lines += [f"    {line}" for line in str(result.get("error", "")).strip().splitlines()[-12:]]
        lines.append("")
        return lines
    if result.get("settings"):
        lines += [settings_line(result["settings"]), ""]
    lines += table(result.get("rows", []))
    if result.get("targets"):
        lines += ["", "Targets:", ""]
        lines += table(target_rows(result))
    lines.append("")
    return lines


def to_markdown(document: Mapping[str, Any]) -> str:
    """The whole ``results.md``: machine, summary of targets, then every benchmark."""
    results = document.get("results", [])
    machine = document.get("machine", {})
    lines = ["# Benchmarks", ""]
    lines.append(f"Machine: {fmt(machine)}" if machine else "Machine: unknown")
    if document.get("command"):
        lines.append(
            f"Command: `{document['command']}`"
            + (" (quick smoke run: tiny models, 1 repetition)" if document.get("quick") else "")
        )
    if isinstance(document.get("elapsed_s"), int | float):
        lines.append(f"Total time: {document['elapsed_s']:.0f} s")
    lines += [
        "",
        "Every figure is a ratio of things measured side by side in one run (alternating, several "
        "repetitions, medians); throughputs are shown only to compute them.",
        "",
    ]
    lines += ["## Summary of targets", ""]
    lines += table(summary_rows(results)) or ["(no targets)"]
    lines.append("")
    for result in results:
        lines += section(result)
    return "\n".join(lines).rstrip() + "\n"
