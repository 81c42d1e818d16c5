"""``python -m jobmatch.report DIR_OR_GLOB [...] [--out DIR]``: the stage-2 sweep table and figures.

Writes ``report.md`` (the table, the Pareto front and which method dominates which, and paired method-vs-method
differences with bootstrap intervals over test JDs: :mod:`jobmatch.report.paired`) and PNG figures
(alignment and nDCG@20 vs learning rate, the trade-off plane)
into ``--out`` (default: the first argument when it is a directory) and prints the table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jobmatch.app.error_report import user_errors
from jobmatch.report.paired import comparison_table
from jobmatch.report.sweep import find_runs, sweep_figures, sweep_table
from jobmatch.report.tradeoff import tradeoff_summary


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, collect runs, write the report."""
    parser = argparse.ArgumentParser(prog="python -m jobmatch.report")
    parser.add_argument("runs", nargs="+", help="run directories, multirun directories or globs")
    parser.add_argument("--out", type=Path, default=None, help="where report.md and the figures go")
    parser.add_argument("--wandb", action="store_true", help="also log the table and figures to W&B (offline)")
    args = parser.parse_args(argv)
    runs = find_runs(args.runs)
    out = args.out or (Path(args.runs[0]) if Path(args.runs[0]).is_dir() else Path("."))
    out.mkdir(parents=True, exist_ok=True)
    table = sweep_table(runs)
    figures = sweep_figures(runs, out)
    summary = tradeoff_summary(runs)
    paired = comparison_table(runs)
    text = ["# Stage-2 sweep", "", table, "", summary, "", "## Paired comparisons", "", paired, ""]
    text += [f"![{p.stem}]({p.name})" for p in figures]
    (out / "report.md").write_text("\n".join(text) + "\n")
    if args.wandb:
        import wandb

        with wandb.init(project="jobmatch", job_type="report", mode="offline", dir=str(out)) as run:
            run.log({"report/table": wandb.Table(columns=["markdown"], data=[[table]]),
                     "report/tradeoff_summary": wandb.Table(columns=["markdown"], data=[[summary]]),
                     **{f"report/{p.stem}": wandb.Image(str(p)) for p in figures}})
    print(table, summary, paired, sep="\n\n")


if __name__ == "__main__":
    with user_errors():
        main()
