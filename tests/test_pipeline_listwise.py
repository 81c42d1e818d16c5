"""Listwise RankPO as the pipeline's stage 2 on a tiny model: two training steps, evaluated and reported."""

import json
from pathlib import Path

import pytest

from jobmatch.app.pipeline_task import pipeline
from tests.helpers import cfg_for, split_files

TINY = ["curriculum.rounds=0", "stage.optim.lr=1e-2", "annotate.pairs_per_query=4", "annotate.top_k=20",
        "stage2.optim.lr=1e-3", "trainer2.max_epochs=1", "trainer.limit_train_batches=2", "eval.baselines=[]",
        "fairness.enabled=false"]


@pytest.mark.slow
def test_pipeline_trains_listwise_rankpo_for_two_steps(tmp_path: Path) -> None:
    results = pipeline(cfg_for("pipeline", tmp_path, *split_files(tmp_path), *TINY, "stage@stage2=rankpo_listwise"))
    root = tmp_path / "run"
    stage2 = json.loads((root / "stage2" / "results.json").read_text())
    assert stage2["trainer/global_step"] == 2
    assert 0.0 <= results["test/alignment"] <= 1.0 and "delta/alignment" in results
    assert "| rankpo_listwise |" in (root / "report.md").read_text()
    hparams = (root / "stage2" / "config.yaml").read_text()
    assert "loss_type: listwise" in hparams
