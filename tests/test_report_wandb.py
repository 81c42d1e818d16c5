"""``python -m jobmatch.report DIR --wandb``: where the report run goes (the runs' logger config, the command
line's options) and what it holds (sortable tables, figures, the report as an artifact), read back offline."""

from pathlib import Path

import pytest
import yaml

from jobmatch.report.__main__ import main
from jobmatch.report.sweep import collect_runs
from jobmatch.report.wandb_report import ReportLogger, run_rows, runs_logger, with_options
from tests.helpers.reports import fake_run
from tests.helpers.wandb_records import offline_runs

LOGGER = {"_target_": "lightning.pytorch.loggers.WandbLogger", "project": "myproj", "entity": "team",
          "offline": True, "private": True, "log_files": True, "settings": {"quiet": True}}


def sweep(root: Path, logger: dict | None = LOGGER) -> None:
    """Two fabricated stage-2 runs and a failed one, of one launch, logged with ``logger``."""
    for name, method, lr, ndcg in (("0", "rankpo", 1e-5, 0.8), ("1", "sft", 1e-5, 0.7), ("2", "sft", 1e-4, None)):
        fake_run(root, name, method, lr, 0, ndcg)
        path = root / name / "config.yaml"
        saved = yaml.safe_load(path.read_text())
        saved["launch"] = {"group": "stage2_sweep-2026-12-07_10-00-00"}
        if logger:
            saved["logger"] = {"wandb": logger}
        path.write_text(yaml.safe_dump(saved))


def test_the_report_follows_the_runs_logger_and_the_command_line(tmp_path: Path) -> None:
    sweep(tmp_path)
    runs = collect_runs([str(tmp_path)])
    found = runs_logger(runs)
    assert found == ReportLogger(project="myproj", entity="team", offline=True, private=True, log_files=True,
                                 group="stage2_sweep-2026-12-07_10-00-00", settings={"quiet": True})
    assert with_options(found, project="other", offline=False, group=None) == ReportLogger(
        project="other", entity="team", offline=False, private=True, log_files=True,
        group="stage2_sweep-2026-12-07_10-00-00", settings={"quiet": True})
    other = tmp_path / "plain"
    sweep(other, logger=None)
    assert runs_logger(collect_runs([str(other)])) == ReportLogger(group="stage2_sweep-2026-12-07_10-00-00")


def test_the_runs_table_has_one_row_per_run_directory(tmp_path: Path) -> None:
    sweep(tmp_path)
    columns, rows = run_rows(collect_runs([str(tmp_path)]), tmp_path)
    table = [dict(zip(columns, row, strict=True)) for row in rows]
    assert [(r["run"], r["method"], r["lr"], r["status"]) for r in table] == [
        ("0", "rankpo", 1e-5, "ok"), ("1", "sft", 1e-5, "ok"),
        ("2", "sft", 1e-4, "missing results (failed or unfinished)")]
    assert table[0]["test/ndcg@20"] == 0.8 and table[2]["test/ndcg@20"] is None


@pytest.mark.slow
def test_report_run_offline(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "staging"))
    sweep(tmp_path / "sweep")
    main([str(tmp_path / "sweep"), "--wandb", "--wandb-entity", "me"])
    (run,) = offline_runs(tmp_path / "sweep" / "wandb")
    assert (run.project, run.entity, run.group, run.job_type) == ("myproj", "me", "stage2_sweep-2026-12-07_10-00-00",
                                                                  "report")
    assert len(run.table("report/table")["data"]) == 3 and len(run.table("report/methods")["data"]) == 2
    front = run.table("report/tradeoff_summary")
    assert [row[front["columns"].index("pareto_front")] for row in front["data"]] == [True, False]
    assert "report/tradeoff" in run.summary and run.host == "" and not run.console  # private, as the runs
    ((kind, _, files),) = run.artifacts[-1:]
    assert kind == "report" and "report.md" in files and "tradeoff.png" in files
