"""``jobmatch report DIR_OR_GLOB [...] [--out DIR] [--wandb ...]``: the stage-2 sweep table and figures
(``python -m jobmatch.report`` is the same command).

Writes ``report.md`` (the table, the Pareto front and which method dominates which, and paired method-vs-method
differences with bootstrap intervals over test JDs: :mod:`jobmatch.report.paired`) and PNG figures
(alignment and nDCG@20 vs learning rate, the trade-off plane)
into ``--out`` (default: the first argument when it is a directory) and prints the table. ``--wandb`` also
logs them as a W&B run of their own, in the runs' project and group (:mod:`jobmatch.report.wandb_report`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jobmatch.report.paired import comparison_table
from jobmatch.report.sweep import find_runs, sweep_figures, sweep_table
from jobmatch.report.tradeoff import tradeoff_summary
from jobmatch.report.wandb_report import log_report, runs_logger, with_options


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, collect runs, write the report."""
    parser = argparse.ArgumentParser(prog="jobmatch report")
    parser.add_argument("runs", nargs="+", help="run directories, multirun directories or globs")
    parser.add_argument("--out", type=Path, default=None, help="where report.md and the figures go")
    wandb = parser.add_argument_group("W&B", "where the report run goes: by default as the runs' logger.wandb says "
                                      "(offline unless they were online), in their group when they share one")
    wandb.add_argument("--wandb", action="store_true", help="also log the tables and figures as a W&B run")
    wandb.add_argument("--wandb-project", default=None, help="W&B project (default: the runs')")
    wandb.add_argument("--wandb-entity", default=None, help="W&B user or team (default: the runs')")
    wandb.add_argument("--wandb-group", default=None, help="W&B group (default: the runs' launch.group)")
    mode = wandb.add_mutually_exclusive_group()
    mode.add_argument("--wandb-online", dest="wandb_offline", action="store_false", default=None,
                      help="log online (needs wandb login)")
    mode.add_argument("--wandb-offline", dest="wandb_offline", action="store_true", default=None,
                      help="log offline (wandb sync later)")
    wandb.add_argument("--wandb-private", action="store_true", default=None,
                       help="upload no command line, host name, git remote or console output (docs/wandb.md)")
    wandb.add_argument("--wandb-files", action="store_true", default=None,
                       help="also log report.md and the figures as a `report` artifact")
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
        settings = with_options(runs_logger(runs), project=args.wandb_project, entity=args.wandb_entity,
                                group=args.wandb_group, offline=args.wandb_offline, private=args.wandb_private,
                                log_files=args.wandb_files)
        log_report(runs, out, figures, settings, sources=list(args.runs), files=[out / "report.md", *figures])
    print(table, summary, paired, sep="\n\n")


if __name__ == "__main__":
    from jobmatch.cli.main import run_command

    run_command("report")
