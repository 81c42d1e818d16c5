"""The pipeline on a tiny model: every step runs, a rerun skips them all, a changed config is refused."""

import json
from pathlib import Path

import pytest

import jobmatch.app.pipeline_task as pipeline_mod
from jobmatch.app.pipeline_task import pipeline
from jobmatch.errors import UserError
from tests.helpers import cfg_for, split_files

TINY = ["curriculum.rounds=1", "stage.optim.lr=1e-2", "mining.n_negatives=5", "mining.margin=null",
        "annotate.pairs_per_query=4",
        "annotate.top_k=20", "stage2.optim.lr=1e-3", "trainer2.max_epochs=2", "eval.baselines=[bm25]"]


@pytest.mark.slow
def test_pipeline_runs_resumes_and_refuses_a_changed_config(tmp_path: Path, monkeypatch) -> None:
    overrides = [*split_files(tmp_path), *TINY]
    results = pipeline(cfg_for("pipeline", tmp_path, *overrides))
    root = tmp_path / "run"
    for key in ("stage1/bm25/ndcg@20", "test/ndcg@20", "test/alignment", "stage1/alignment", "delta/alignment",
                "delta/ndcg@20", "annotate/train_pairs"):
        assert key in results, key
    assert json.loads((root / "results.json").read_text())["test/alignment"] == results["test/alignment"]
    report = (root / "report.md").read_text()
    assert "| stage 1 (contrastive) |" in report and "| rankpo |" in report
    assert (root / "tradeoff.png").stat().st_size > 0

    def fail(*args, **kwargs):
        raise AssertionError("a finished step ran again")

    monkeypatch.setattr(pipeline_mod, "curriculum", fail)
    monkeypatch.setattr(pipeline_mod, "annotate", fail)
    monkeypatch.setattr(pipeline_mod, "train", fail)
    assert pipeline(cfg_for("pipeline", tmp_path, *overrides))["test/alignment"] == results["test/alignment"]

    with pytest.raises(UserError, match=r"annotate\.pairs_per_query"):
        pipeline(cfg_for("pipeline", tmp_path, *overrides, "annotate.pairs_per_query=3"))


@pytest.mark.slow
def test_demo_preset_smoke_with_a_tiny_model(tmp_path: Path) -> None:
    """experiment=demo end to end on the generated synthetic_small market, with tiny_bert for speed; run twice
    from scratch, it writes the same report."""
    from tests.helpers import compose_config

    cfg = compose_config(["experiment=demo", "model=tiny_bert", "logger=none", "trainer.enable_progress_bar=false"],
                         tmp_path / "run", "pipeline", output_dir=tmp_path / "out")
    assert cfg.data.synthetic.preset == "synthetic_small" and cfg.curriculum.rounds == 1
    results = pipeline(cfg)
    assert results["annotate/train_pairs"] > 0
    assert 0.0 <= results["test/alignment"] <= 1.0 and "delta/ndcg@20" in results
    # the offline judge's ceiling and intent, and the out-of-distribution split, beside the test split
    assert 0.5 <= results["test/alignment_ceiling"] <= 1.0 and "delta/alignment_intent" in results
    assert "test_ood/ndcg@20" in results and "stage1/test_ood/ndcg@20" in results
    ood = "delta/test_ood/ndcg@20"  # paired over the OOD JDs, whose per-JD values stage 2 keeps
    assert results[f"{ood}_ci_low"] <= results[ood] <= results[f"{ood}_ci_high"]
    per_query = json.loads((tmp_path / "run" / "stage2" / "per_query.json").read_text())
    assert len(per_query["test"]["ood_ndcg@20"]) == 30 and len(per_query["stage1"]["ood_ndcg@20"]) == 30
    assert results["annotate/test_pairs"] >= 600
    # the fairness audit of both models, in the results and the report
    for prefix in ("stage1/audit/", "audit/"):
        assert 0.0 <= results[f"{prefix}gender/topk_change@20"] <= 1.0
        assert 0.0 <= results[f"{prefix}origin/min_impact_ratio@20"] <= 1.0
    assert "Fairness" in (tmp_path / "run" / "report.md").read_text()
    assert (tmp_path / "run" / "audit" / "stage2" / "audit.md").exists()
    # ... and their paired differences over the same test JDs, with a reading
    key = "audit/gender/topk_change@20"
    delta = results[f"delta/{key}"]
    assert delta == pytest.approx(results[key] - results[f"stage1/{key}"])
    assert results[f"delta/{key}_ci_low"] <= delta <= results[f"delta/{key}_ci_high"]
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| Δ (rankpo − stage 1), paired 95% CI | gender |" in report
    assert "Δ (rankpo − stage 1), paired over 30 test JDs:" in report
    assert "Acceptance line: alignment gain" in report and "nDCG@20 kept" in report  # the demo's line, checked

    # the same command again, from scratch (new run and output directories, no cache): the same report
    again = compose_config(["experiment=demo", "model=tiny_bert", "logger=none", "trainer.enable_progress_bar=false"],
                           tmp_path / "run2", "pipeline", output_dir=tmp_path / "out2")
    pipeline(again)
    assert (tmp_path / "run2" / "report.md").read_text() == report
