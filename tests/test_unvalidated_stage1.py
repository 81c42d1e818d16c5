"""A pipeline whose stage 1 never validates (max_steps below one epoch) hands on its last.ckpt, and says so."""

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from jobmatch.app.pipeline_task import pipeline
from tests.helpers import cfg_for, split_files

pytestmark = pytest.mark.usefixtures("one_thread")
# 8 train JDs in batches of 4: two steps an epoch, so one step never reaches the epoch-end validation
SHORT = ["curriculum.rounds=0", "trainer.max_steps=1", "eval.baselines=[]", "annotate.top_k=10",
         "annotate.pairs_per_query=2", "annotate.test_pairs_per_query=2", "stage.optim.lr=1e-2"]


def test_stage1_that_never_validated_hands_on_its_last_checkpoint_explicitly(tmp_path: Path) -> None:
    results = pipeline(cfg_for("pipeline", tmp_path, *split_files(tmp_path), *SHORT))

    root = tmp_path / "run"
    last = root / "stage1" / "round0" / "train" / "checkpoints" / "last.ckpt"
    assert last.exists() and not (last.parent / "best.ckpt").exists()
    entry = json.loads((root / "stage1" / "lineage.json").read_text())[-1]
    assert entry["checkpoint"] == str(last)
    assert "never validated" in entry["checkpoint_note"] and "trainer.max_steps=1" in entry["checkpoint_note"]
    # every later step read that checkpoint, not the base model
    assert OmegaConf.load(root / "stage2" / "config.yaml").stage.init_ckpt == str(last)
    report = (root / "report.md").read_text()
    assert "| stage 1 (contrastive, last.ckpt: never validated) |" in report
    assert "of stage-1 (its last.ckpt, never validated) test nDCG@20" in report
    assert "Stage 1 never validated (trainer.max_steps=1 ends before the first validation)" in report
    assert str(last) in report and "stage1/ndcg@20" in results
    assert "Stage 2 never validated (no best checkpoint): its last weights are evaluated." in report
