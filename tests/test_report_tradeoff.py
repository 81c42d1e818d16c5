"""Pareto front and method dominance on fabricated sweeps."""

from pathlib import Path

import wandb

from jobmatch.report.__main__ import main
from jobmatch.report.sweep import collect_runs, sweep_table
from jobmatch.report.tradeoff import method_dominates, pareto_front, points, tradeoff_summary
from tests.helpers.reports import fake_run
from tests.helpers.wandb_records import finished_offline_runs


def _sweep(root: Path) -> list:
    # rankpo keeps retention as lr grows; sft buys alignment with retention; simrankpo is in between.
    for i, lr in enumerate((1e-5, 1e-4)):
        fake_run(root, f"r{i}", "rankpo", lr, 0, 0.80 - 0.01 * i, 0.60 + 0.10 * i)
        fake_run(root, f"s{i}", "sft", lr, 0, 0.78 - 0.10 * i, 0.60 + 0.08 * i)
        fake_run(root, f"m{i}", "simrankpo", lr, 0, 0.79 - 0.05 * i, 0.61 + 0.12 * i)
    return collect_runs([str(root)])


def test_front_and_dominance(tmp_path: Path) -> None:
    pts = points(_sweep(tmp_path))
    front = pareto_front(pts)
    assert [(m, lr) for m, lr, *_ in front] == [("rankpo", 1e-5), ("rankpo", 1e-4), ("simrankpo", 1e-4)]
    assert method_dominates(pts, "rankpo", "sft")
    assert not method_dominates(pts, "sft", "rankpo")
    # simrankpo at 1e-4 has the highest alignment, so rankpo cannot cover it, nor it rankpo's retention.
    assert not method_dominates(pts, "rankpo", "simrankpo")
    assert not method_dominates(pts, "simrankpo", "rankpo")
    assert not method_dominates(pts, "rankpo", "missing")


def test_equal_points_cover_each_other(tmp_path: Path) -> None:
    fake_run(tmp_path, "a", "rankpo", 1e-5, 0, 0.7, 0.6)
    fake_run(tmp_path, "b", "sft", 1e-5, 0, 0.7, 0.6)
    pts = points(collect_runs([str(tmp_path)]))
    assert len(pareto_front(pts)) == 2
    assert method_dominates(pts, "rankpo", "sft") and method_dominates(pts, "sft", "rankpo")


def test_summary_and_report(tmp_path: Path, capsys) -> None:
    runs = _sweep(tmp_path / "sweep")
    summary = tradeoff_summary(runs)
    assert "| rankpo | · | yes | no |" in summary  # columns: rankpo, sft, simrankpo
    assert "- rankpo lr 1e-05: nDCG@20 0.8000, alignment 0.6000" in summary
    assert tradeoff_summary([]) == ""
    main([str(tmp_path / "sweep")])
    assert "## Trade-off" in (tmp_path / "sweep" / "report.md").read_text()
    assert "Pareto front" in capsys.readouterr().out


def test_interval_column(tmp_path: Path) -> None:
    fake_run(tmp_path, "a", "rankpo", 1e-5, 0, 0.7, 0.6)
    table = sweep_table(collect_runs([str(tmp_path)]))
    assert table.splitlines()[0].endswith("| alignment 95% CI | judge ceiling | visible ceiling | visible intent |")
    # the fabricated run has no bootstrap bounds and no offline-judge ceilings
    assert table.splitlines()[-1].endswith("| — | — | — | — |")


def test_report_logs_table_and_tradeoff_to_wandb_offline(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_SILENT", "true")
    _sweep(tmp_path / "sweep")
    main([str(tmp_path / "sweep"), "--wandb"])
    wandb.teardown()  # the report has torn W&B down already; a second call is a no-op
    (run,) = finished_offline_runs(tmp_path / "sweep" / "wandb")
    assert {"report/table", "report/tradeoff_summary"} <= set(run.summary)
