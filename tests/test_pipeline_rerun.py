"""Pipeline reruns: a started step or the run dir's config.yaml made with another config stops everything."""

import json
from pathlib import Path

import pytest
from omegaconf import DictConfig

import jobmatch.app.curriculum_task as curriculum_mod
from jobmatch.app.pipeline_task import StepConfigMismatch, done, mark, pipeline, stage1_key, stage2_config, stage2_key
from jobmatch.errors import ConfigError
from tests.helpers import FIXTURES, cfg_for

pytestmark = pytest.mark.usefixtures("one_thread")
FIXTURE = FIXTURES / "contrastive_tiny.jsonl"
TINY = [
    "curriculum.rounds=1",
    "mining.n_negatives=5",
    "mining.margin=null",
    "eval.baselines=[]",
    f"data.val_file={FIXTURE}",
    f"data.test_file={FIXTURE}",
]


def pipeline_cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    """``conf/pipeline.yaml`` on the tiny model, running in ``tmp_path/run``."""
    return cfg_for("pipeline", tmp_path, *TINY, *overrides)


def test_a_started_step_with_another_fingerprint_is_refused(tmp_path: Path) -> None:
    mark(tmp_path / "stage1", "aaaa")  # interrupted: step.json, no results.json
    with pytest.raises(StepConfigMismatch, match="another config"):
        done(tmp_path / "stage1", "bbbb")
    assert json.loads((tmp_path / "stage1" / "step.json").read_text()) == {"fingerprint": "aaaa"}
    assert done(tmp_path / "stage1", "aaaa") is None


def test_step_fingerprints_cover_eval_and_data(tmp_path: Path) -> None:
    base = pipeline_cfg(tmp_path)
    for change in ("eval.k=5", "eval.cutoffs=[1,5]"):
        assert stage1_key(pipeline_cfg(tmp_path, change)) != stage1_key(base), change
    pairs = tmp_path / "annotate"

    def key2(cfg: DictConfig) -> str:
        return stage2_key(stage2_config(cfg, tmp_path, "stage1.ckpt", pairs), pairs)

    for change in ("eval.k=5", "data.batch_size=2", "data.max_passage_length=64"):
        assert key2(pipeline_cfg(tmp_path, change)) != key2(base), change
    assert key2(pipeline_cfg(tmp_path, "trainer.enable_progress_bar=true")) == key2(base)


def test_rerun_after_an_interruption_with_another_config_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    def interrupt(*args, **kwargs):
        raise RuntimeError("simulated interruption before round 1")

    monkeypatch.setattr(curriculum_mod, "round_train_file", interrupt)
    with pytest.raises(RuntimeError, match="simulated interruption"):
        pipeline(pipeline_cfg(tmp_path))
    root = tmp_path / "run"
    assert (root / "stage1" / "lineage.json").exists()
    kept = {
        path: path.read_text()
        for path in (
            root / "config.yaml",
            root / "stage1" / "step.json",
            root / "stage1" / "lineage.json",
            root / "stage1" / "config.yaml",
        )
    }

    with pytest.raises(ConfigError, match=r"data\.batch_size: 4 -> 2"):
        pipeline(pipeline_cfg(tmp_path, "data.batch_size=2"))
    with pytest.raises(ConfigError, match=r"eval\.k: 100 -> 5"):
        pipeline(pipeline_cfg(tmp_path, "eval.k=5", "eval.cutoffs=[1,5]"))
    with pytest.raises(StepConfigMismatch, match="stage1"):  # allowed at the root, not by the started step
        pipeline(pipeline_cfg(tmp_path, "eval.k=5", "eval.cutoffs=[1,5]", "resume.allow_changes=[eval]"))

    assert {path: path.read_text() for path in kept} == kept
