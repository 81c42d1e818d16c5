"""``python -m jobmatch.report DIR --wandb``: the sweep report as a W&B run of its own (job type ``report``).

The run holds sortable tables, not markdown: ``report/table`` (one row per run directory: its method, lr,
seed, status and metrics), ``report/methods`` (one row per method and learning rate: means and standard
deviations over seeds), ``report/tradeoff_summary`` (one row per method and lr: the trade-off point and
whether it is on the Pareto front) and ``report/dominance`` (one row per ordered pair of methods); the
figures as images (``report/<figure>``); and, with ``log_files``, ``report.md`` and the figures as a
``report`` artifact.

Where it goes follows the runs' own W&B logger (``logger.wandb`` of their ``config.yaml``: project, entity,
offline, private, log_files, settings), and it joins their group (``launch.group``) when they share one;
command-line options replace either.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from jobmatch.report.sweep import METRICS, Run, grouped
from jobmatch.report.tradeoff import method_dominates, pareto_front, points
from jobmatch.utils.wandb_upload import private_config, private_settings, upload_files

RUN_COLUMNS = (*METRICS, "test/alignment_ci_low", "test/alignment_ci_high", "stage1/ndcg@20", "stage1/alignment",
               "time/fit_s", "memory/peak_rss_mb")
METHOD_METRICS = ("test/ndcg@20", "test/alignment", "test/recall@100", "delta/ndcg@20", "delta/alignment")


@dataclass(frozen=True)
class ReportLogger:
    """Where and how the report run logs (the fields of a ``logger.wandb`` node that apply to it)."""

    project: str = "jobmatch"
    entity: str | None = None
    offline: bool = True
    private: bool = False
    log_files: bool = False
    group: str | None = None
    settings: dict[str, Any] = field(default_factory=lambda: {"quiet": True})


def _saved_config(run: Run) -> dict[str, Any]:
    path = run.path / "config.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def runs_logger(runs: list[Run]) -> ReportLogger:
    """The W&B logger settings of the first run that logged to W&B, and the runs' shared ``launch.group``."""
    configs = [_saved_config(r) for r in runs]
    groups = {(c.get("launch") or {}).get("group") for c in configs}
    group = groups.pop() if len(groups) == 1 else None
    for config in configs:
        node = (config.get("logger") or {}).get("wandb") or {}
        if str(node.get("_target_", "")).endswith("WandbLogger"):
            return ReportLogger(
                project=str(node.get("project") or "jobmatch"), entity=node.get("entity"),
                offline=bool(node.get("offline", True)), private=bool(node.get("private")),
                log_files=bool(node.get("log_files")), group=group, settings=dict(node.get("settings") or {}))
    return ReportLogger(group=group)


def with_options(base: ReportLogger, **options: Any) -> ReportLogger:
    """``base`` with the options that are not None (the command line's)."""
    return replace(base, **{k: v for k, v in options.items() if v is not None})


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def run_rows(runs: list[Run], root: Path) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of ``report/table``: one row per run directory (failed ones too, with their status)."""
    columns = ["run", "method", "lr", "seed", "status", *RUN_COLUMNS]
    rows = []
    for run in runs:
        where = run.path.relative_to(root).as_posix() if run.path.is_relative_to(root) else str(run.path)
        rows.append([where, run.method, run.lr, run.seed, run.status,
                     *(_number(run.metrics.get(k)) for k in RUN_COLUMNS)])
    return columns, rows


def method_rows(runs: list[Run]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of ``report/methods``: per method and lr, the seeds and each metric's mean and std."""
    columns = ["method", "lr", "seeds"] + [f"{m} {s}" for m in METHOD_METRICS for s in ("mean", "std")]
    rows = []
    for (method, lr), group in grouped(runs).items():
        row: list[Any] = [method, lr, len(group)]
        for metric in METHOD_METRICS:
            values = [v for r in group if (v := _number(r.metrics.get(metric))) is not None]
            row += [statistics.mean(values) if values else None, statistics.stdev(values) if len(values) > 1 else None]
        rows.append(row)
    return columns, rows


def tradeoff_rows(runs: list[Run]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of ``report/tradeoff_summary``: each (method, lr) point and whether it is on the front."""
    pts = points(runs)
    front = set(pareto_front(pts))
    return (["method", "lr", "test/ndcg@20", "test/alignment", "pareto_front"],
            [[m, lr, ndcg, align, (m, lr, ndcg, align) in front] for m, lr, ndcg, align in pts])


def dominance_rows(runs: list[Run]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of ``report/dominance``: for each ordered pair of methods, whether the first dominates."""
    pts = points(runs)
    methods = sorted({p[0] for p in pts})
    return (["method", "other", "dominates"],
            [[a, b, method_dominates(pts, a, b)] for a in methods for b in methods if a != b])


def report_config(runs: list[Run], sources: list[str], private: bool) -> dict[str, Any]:
    """The report run's config: what it summarises."""
    finished = [r for r in runs if r.status == "ok"]
    config = {"task": "report", "runs": len(runs), "finished": len(finished),
              "methods": sorted({r.method for r in finished}),
              "lrs": sorted({r.lr for r in finished if r.lr is not None}),
              "seeds": sorted({r.seed for r in finished if r.seed is not None}), "sources": sources}
    return private_config(config) if private else config


def log_report(runs: list[Run], out: Path, figures: list[Path], settings: ReportLogger, sources: list[str],
               files: Sequence[Path] = ()) -> None:
    """Open the report run in ``out/wandb``, log the tables, figures and (``settings.log_files``) ``files``, and
    close it."""
    import wandb

    finished = sorted({r.method for r in runs if r.status == "ok"})
    init_settings = private_settings(settings.settings) if settings.private else dict(settings.settings)
    with wandb.init(project=settings.project, entity=settings.entity, mode="offline" if settings.offline else "online",
                    dir=str(out), job_type="report", name="report", group=settings.group or "report",
                    tags=["report", *finished], config=report_config(runs, sources, settings.private),
                    settings=init_settings) as run:
        tables = {"report/table": run_rows(runs, out), "report/methods": method_rows(runs),
                  "report/tradeoff_summary": tradeoff_rows(runs), "report/dominance": dominance_rows(runs)}
        run.log({key: wandb.Table(columns=columns, data=rows) for key, (columns, rows) in tables.items()}
                | {f"report/{p.stem}": wandb.Image(str(p)) for p in figures})
        if settings.log_files:
            upload_files(run, out, [p for p in files if p.is_file()], kind="report", images=False)
    # finish() hands the records to the wandb-core process, which closes the offline file only when torn down:
    # when this returns, the report's run file is complete (to sync or read)
    wandb.teardown()
