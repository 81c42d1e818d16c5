"""The evaluate, mine and curriculum entry points on a tiny model and the built-in fixture."""

import json
from pathlib import Path

import pytest

import jobmatch.app.curriculum_task as curriculum_mod
import jobmatch.retrieval.encode as encode_mod
from jobmatch.app.curriculum_task import curriculum
from jobmatch.app.evaluate_task import evaluate
from jobmatch.app.train_task import train
from jobmatch.data.readers import read_contrastive
from tests.helpers import FAST, FIXTURES, cfg_for, compose_config

FIXTURE = str(FIXTURES / "contrastive_tiny.jsonl")
EVAL = [f"data.val_file={FIXTURE}", "stage.optim.lr=1e-2", "mining.n_negatives=4", "mining.margin=null"]


def test_evaluate_writes_metrics_baselines_runs_and_uses_cache(tmp_path: Path, monkeypatch) -> None:
    fit = train(compose_config(FAST, run_dir=tmp_path / "train"))
    cfg = cfg_for("evaluate", tmp_path, f"ckpt={fit['checkpoint/best']}", f"data.test_file={FIXTURE}")
    results = evaluate(cfg)
    for key in ("test/ndcg@20", "test/mrr@10", "test/recall@100", "base/ndcg@20", "bm25/ndcg@20",
                "test/recall_capped@20", "test/ndcg_retrieved@20", "time/encode_corpus_s"):
        assert key in results, key
    run_dir = Path(cfg.paths.run_dir)
    assert json.loads((run_dir / "results.json").read_text())["test/ndcg@20"] == results["test/ndcg@20"]
    assert (run_dir / "run.trec").read_text().count("\n") >= 12
    assert "| bm25 |" in (run_dir / "table.md").read_text()
    per_query = json.loads((run_dir / "per_query.json").read_text())  # per-JD values behind the means
    for metric in ("ndcg@20", "recall@100"):
        assert len(per_query[metric]) == results["data/queries"]
        assert sum(per_query[metric].values()) / len(per_query[metric]) == pytest.approx(results[f"test/{metric}"])

    def no_encoding(*args, **kwargs):
        raise AssertionError("re-encoded despite the cache")

    monkeypatch.setattr(encode_mod, "encode_texts", no_encoding)
    again = evaluate(cfg_for("evaluate", tmp_path, f"ckpt={fit['checkpoint/best']}", f"data.test_file={FIXTURE}",
                             "eval.baselines=[]"))
    assert again["test/ndcg@20"] == results["test/ndcg@20"]


@pytest.mark.slow
def test_combined_curriculum_records_lineage_and_resumes(tmp_path: Path, monkeypatch) -> None:
    cfg = cfg_for("curriculum", tmp_path, "curriculum=combined", "curriculum.rounds=1", *EVAL,
                  f"data.test_file={FIXTURE}", "eval.baselines=[bm25]")
    results = curriculum(cfg)
    root = Path(cfg.paths.run_dir)
    lineage = json.loads((root / "lineage.json").read_text())
    assert [e["round"] for e in lineage] == [0, 1]
    assert lineage[1]["mined_with"] == lineage[0]["checkpoint"] == lineage[1]["init_from"]
    rows = read_contrastive(lineage[1]["train_file"])
    assert all(set(r.negative_rounds) == {0, 1} for r in rows if r.negative_rounds and len(r.negatives) > 6)
    assert {"final/ndcg@20", "round1/test/ndcg@20", "bm25/ndcg@20"} <= set(results)

    def fail(*args, **kwargs):
        raise AssertionError("a finished round ran again")

    monkeypatch.setattr(curriculum_mod, "train", fail)
    assert curriculum(cfg)["final/ndcg@20"] == results["final/ndcg@20"]


@pytest.mark.slow
def test_incremental_round_trains_on_mined_negatives_only(tmp_path: Path) -> None:
    cfg = cfg_for("curriculum", tmp_path, "curriculum=incremental", "curriculum.rounds=1", *EVAL,
                  f"data.test_file={FIXTURE}", "eval.baselines=[]")
    with pytest.raises(ValueError, match=r"mining\.n_negatives=4 < data\.n_negatives=5"):
        curriculum(cfg)
    cfg.data.n_negatives = 3
    curriculum(cfg)
    lineage = json.loads((Path(cfg.paths.run_dir) / "lineage.json").read_text())
    rows = read_contrastive(lineage[1]["train_file"])
    assert all(r.negative_rounds == (1,) * 4 for r in rows)


@pytest.mark.slow
def test_every_curriculum_step_is_its_own_wandb_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = cfg_for("curriculum", tmp_path, "curriculum=combined", "curriculum.rounds=1", *EVAL,
                  f"data.test_file={FIXTURE}", "eval.baselines=[]", "logger=wandb")
    curriculum(cfg)
    root = Path(cfg.paths.run_dir)
    runs = {p.parent.parent.relative_to(root).as_posix(): p.name for p in root.rglob("wandb/offline-run-*")}
    # round k's training and evaluation, and the curriculum's summary: five runs, five ids
    assert set(runs) == {"round0/train", "round0/eval", "round1/train", "round1/eval", "."}, runs
    assert len(set(runs.values())) == 5
