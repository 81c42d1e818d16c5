"""Comparing runs in W&B as users do it, read back from the offline run files record by record: a stage-2 sweep
launched twice and its report run, and a pipeline's runs (slow: real runs of a tiny model)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import wandb

from jobmatch.app.pipeline_task import pipeline
from jobmatch.app.train_task import train
from jobmatch.report.__main__ import main as report_main
from tests.helpers import FAST, FIXTURES, ROOT, cfg_for, compose_config, split_files
from tests.helpers.wandb_records import OfflineRun, offline_runs

pytestmark = pytest.mark.slow
CONTRASTIVE, PAIRS = FIXTURES / "contrastive_tiny.jsonl", FIXTURES / "preferences_tiny.jsonl"
TEST_METRICS = ("test/ndcg@20", "test/alignment")
RESULTS_ROW = ("time/fit_s", "memory/peak_rss_mb", "checkpoint/best_score")


def launch_sweep(tmp_path: Path, sweep_dir: Path, stage1: str, *overrides: str) -> None:
    """``python -m jobmatch.train -m ...`` of tiny stage-2 runs, from a git repository with a remote (what W&B
    records of the working directory); returns once the process, and with it W&B, has finished."""
    repo = tmp_path / "repo"
    if not repo.exists():
        repo.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        remote = ["git", "remote", "add", "origin", "https://example.invalid/me/secret.git"]
        subprocess.run(remote, cwd=repo, check=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_SILENT": "true", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "jobmatch.train", "-m", *overrides, "logger=wandb", f"stage.init_ckpt={stage1}",
         f"data.train_file={CONTRASTIVE}", f"data.test_file={CONTRASTIVE}", f"data.preference_train_file={PAIRS}",
         "model=tiny_bert", "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
         "trainer.max_epochs=1", "trainer.limit_train_batches=1", "data.batch_size=4", "eval.k=20",
         "eval.cutoffs=[1,5,10,20]", f"paths.output_dir={tmp_path / 'out'}", f"hydra.sweep.dir={sweep_dir}"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def by_type(runs: list[OfflineRun], job_type: str) -> list[OfflineRun]:
    return [r for r in runs if r.job_type == job_type]


def test_a_sweep_is_one_group_per_launch_with_unique_names_and_a_report_table(tmp_path: Path) -> None:
    stage1 = train(compose_config([*FAST, "trainer.limit_train_batches=2"], tmp_path / "stage1"))["checkpoint/best"]
    first, second = tmp_path / "first", tmp_path / "second"
    launch_sweep(tmp_path, first, stage1, "stage=rankpo,sft", "stage.optim.lr=1e-4,1e-3")
    launch_sweep(tmp_path, second, stage1, "stage=rankpo,sft", "stage.optim.lr=1e-4", "logger.wandb.private=true")
    report_main([str(first), "--wandb"])

    runs = offline_runs(first)
    jobs, (report,) = by_type(runs, "train"), by_type(runs, "report")
    assert len(jobs) == 4 and len({r.name for r in jobs}) == 4, [r.name for r in jobs]
    assert sorted(r.name for r in jobs) == ["rankpo-lr0.0001-seed42", "rankpo-lr0.001-seed42",
                                            "sft-lr0.0001-seed42", "sft-lr0.001-seed42"]
    (group,) = {r.group for r in jobs}
    assert group == "train-first" and report.group == group
    for run in jobs:
        assert (run.config["method"], run.config["lr"], run.config["seed"]) == (
            run.name.split("-")[0], float(run.name.split("-lr")[1].split("-")[0]), 42)
        assert run.config["launch"] == group and run.config["choices"]["stage"] == run.config["method"]
        assert run.config["choices"]["model"] == "tiny_bert" and run.config["stage"]["name"] == run.config["method"]
        assert not {"stage2", "trainer2", "annotate", "judge", "mining", "curriculum"} & set(run.config)
        assert all(key in run.summary for key in (*TEST_METRICS, *RESULTS_ROW)), sorted(run.summary)
        assert run.config["params"]["trainable"] > 0 and "temperature" not in run.config  # no flat module hparams

    again = by_type(offline_runs(second), "train")
    assert len(again) == 2 and {r.group for r in again} == {"train-second"}  # the same sweep again: its own group
    assert {r.name for r in again} <= {r.name for r in jobs}

    # docs/wandb.md's sync command (find DIR -type d -name 'offline-run-*') takes the jobs' runs and the report's
    found = [str(p) for p in first.rglob("offline-run-*") if p.is_dir() and not p.is_symlink()]
    dry = subprocess.run([str(Path(sys.executable).with_name("wandb")), "sync", "--dry-run", *found],
                         capture_output=True, text=True, timeout=300)
    assert "Would sync 5 run(s)" in dry.stdout + dry.stderr, dry.stdout + dry.stderr

    table = report.table("report/table")
    assert len(table["data"]) == 4 and {"method", "lr", "seed", *TEST_METRICS} <= set(table["columns"])
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    assert sorted((r["method"], r["lr"]) for r in rows) == [("rankpo", 1e-4), ("rankpo", 1e-3), ("sft", 1e-4),
                                                            ("sft", 1e-3)]
    assert all(isinstance(r["test/ndcg@20"], float) for r in rows)
    assert len(report.table("report/methods")["data"]) == 4 and report.config["methods"] == ["rankpo", "sft"]

    # privacy: the default run records the host name, the git remote, the console and absolute paths; the private
    # one (logger.wandb.private=true) none of them
    plain, private = jobs[0], again[0]
    assert plain.host == socket.gethostname() and "environment" in plain.kinds and plain.console
    recorded = plain.path.read_bytes()
    assert b"example.invalid/me/secret.git" in recorded and str(tmp_path).encode() in recorded
    for run in again:
        assert run.host == "" and "environment" not in run.kinds and not run.console
        files = [run.path, *(p for p in (run.directory / "files").rglob("*") if p.is_file())]
        assert not (run.directory / "files" / "output.log").exists()
        for path in files:
            data = path.read_bytes()
            assert b"secret.git" not in data and str(tmp_path).encode() not in data and str(ROOT).encode() not in data
    assert private.config["stage"]["init_ckpt"] == "…/best.ckpt"


def identity_corpus(path: Path) -> Path:
    """Every talent of the contrastive fixture with an id and a gender (what the fairness audit reads)."""
    texts: dict[str, int] = {}
    for line in CONTRASTIVE.read_text().splitlines():
        row = json.loads(line)
        for text in (*row["positives"], *row["negatives"]):
            texts.setdefault(text, len(texts))
    path.write_text("".join(json.dumps({"id": f"t{i}", "text": text, "gender": ("female", "male")[i % 2]}) + "\n"
                            for text, i in texts.items()))
    return path


def test_a_pipeline_labels_each_run_by_what_it_is(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-staging"))  # artifacts' copies, not in $HOME
    cfg = cfg_for("pipeline", tmp_path, *split_files(tmp_path), "curriculum.rounds=1", "stage.optim.lr=1e-2",
                  "mining.n_negatives=5", "mining.margin=null", "annotate.pairs_per_query=4", "annotate.top_k=20",
                  "stage2.optim.lr=1e-3", "trainer2.max_epochs=1", "eval.baselines=[]", "trainer.limit_train_batches=2",
                  f"data.corpus_file={identity_corpus(tmp_path / 'corpus.jsonl')}", "fairness.n_bootstrap=50",
                  "logger=wandb", "logger.wandb.log_files=true", "logger.wandb.log_model=true")
    pipeline(cfg)
    wandb.teardown()  # the wandb-core process closes the offline files when it is torn down
    runs = {r.name.removeprefix("rankpo-lr0.001-seed42"): r for r in offline_runs(tmp_path / "run")}
    assert sorted(runs) == ["/annotate", "/audit", "/stage1/round0/eval", "/stage1/round0/train",
                            "/stage1/round1/eval", "/stage1/round1/train", "/stage1/summary", "/stage2", "/summary"]
    assert {r.group for r in runs.values()} == {"pipeline-run"}
    assert {name: r.job_type for name, r in runs.items()} == {
        "/annotate": "annotate", "/audit": "audit", "/stage1/round0/eval": "eval", "/stage1/round0/train": "train",
        "/stage1/round1/eval": "eval", "/stage1/round1/train": "train", "/stage1/summary": "summary",
        "/stage2": "train", "/summary": "summary"}
    for name, run in runs.items():
        method, lr = ("rankpo", 1e-3) if name in ("/stage2", "/summary", "/audit") else ("contrastive", 1e-2)
        assert (run.config["method"], run.config["lr"], run.config["seed"]) == (method, lr, 42), name
        assert run.config["launch"] == "pipeline-run" and run.tags[0] == method
    summary, stage2 = runs["/summary"], runs["/stage2"]
    assert "lr=0.001" in summary.tags and "contrastive" not in summary.tags
    for run in (summary, stage2):
        assert all(key in run.summary for key in TEST_METRICS)
    assert {"stage2", "annotate", "judge", "fairness", "curriculum"} <= set(summary.config)
    assert not {"stage2", "annotate", "judge", "mining", "curriculum"} & set(stage2.config)
    assert {"ckpt", "eval", "data"} <= set(runs["/stage1/round0/eval"].config)
    assert {"mining", "curriculum", "stage"} <= set(runs["/stage1/summary"].config)
    assert {"fairness", "judge"} <= set(runs["/audit"].config) and any(k.startswith("stage1/audit/")
                                                                       for k in runs["/audit"].summary)
    for name in ("/stage1/round0/train", "/stage1/round1/train", "/stage2"):
        assert all(key in runs[name].summary for key in RESULTS_ROW), name  # stage 1's training runs too
    # the optional artifacts: checkpoints of training runs, per-JD values, reports and figures
    artifacts = {name: {kind: files for kind, _, files in r.artifacts} for name, r in runs.items()}
    assert sorted(artifacts["/stage2"]["model"]) == ["best.ckpt", "last.ckpt"]
    assert "per_query.json" in artifacts["/stage2"]["results"] and "per_query.json" in artifacts["/stage1/round0/eval"][
        "results"]
    assert {"report.md", "tradeoff.png"} <= set(artifacts["/summary"]["results"])
    assert "stage2/audit.png" in artifacts["/audit"]["results"] and "figures/stage2/audit" in runs["/audit"].summary
