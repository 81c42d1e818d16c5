"""Listwise RankPO as the pipeline's stage 2 on a tiny model, on pairs chosen by an active sampler: two training
steps, evaluated and reported (with the offline judge's visible ceiling and the judge cost)."""

import json
from pathlib import Path

import pytest

from jobmatch.app.pipeline_task import pipeline
from tests.helpers import cfg_for, split_files

TINY = ["curriculum.rounds=0", "stage.optim.lr=1e-2", "annotate.pairs_per_query=4", "annotate.top_k=20",
        "stage2.optim.lr=1e-3", "trainer2.max_epochs=1", "trainer.limit_train_batches=2", "eval.baselines=[]",
        "fairness.enabled=false"]


@pytest.mark.slow
def test_pipeline_trains_listwise_rankpo_on_actively_sampled_pairs(tmp_path: Path) -> None:
    results = pipeline(cfg_for("pipeline", tmp_path, *split_files(tmp_path), *TINY, "stage@stage2=rankpo_listwise",
                               "annotate.sampler=uncertainty"))
    root = tmp_path / "run"
    stage2 = json.loads((root / "stage2" / "results.json").read_text())
    assert stage2["trainer/global_step"] == 2
    assert 0.0 <= results["test/alignment"] <= 1.0 and "delta/alignment" in results
    report = (root / "report.md").read_text()
    assert "| rankpo_listwise |" in report and "| visible ceiling |" in report
    # the offline judge on the text the encoder receives, beside its ceiling on the whole texts
    assert 0.0 <= results["test/alignment_visible_ceiling"] <= 1.0 and "test/alignment_visible_intent" in results
    assert "delta/alignment_visible_ceiling" not in results
    # the training pairs were chosen by the uncertainty sampler; their judge cost is reported
    assert results["annotate/train_judge_calls"] == results["annotate/train_pairs"] == 32
    assert "Judge cost of the training pairs: 32 calls" in report
    hparams = (root / "stage2" / "config.yaml").read_text()
    assert "loss_type: listwise" in hparams
