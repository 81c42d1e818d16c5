"""Pipeline reruns: a started step or the run dir's config.yaml made with another config stops everything."""

import json
import os
import subprocess
import sys
from pathlib import Path

import hydra
import pytest
from omegaconf import DictConfig, OmegaConf

import jobmatch.app.curriculum_task as curriculum_mod
from jobmatch.app.pipeline_task import StepConfigMismatch, done, mark, pipeline, stage1_key, stage2_config, stage2_key
from jobmatch.errors import ConfigError
from tests.helpers import CONF, FIXTURES, ROOT, cfg_for, split_files

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


def pipeline_command(monkeypatch: pytest.MonkeyPatch, *overrides: str) -> int:
    """``python -m jobmatch.pipeline OVERRIDES`` in this process, as Hydra runs the command; its exit status."""
    from jobmatch.app.run_dir import task_wrapper, use_hydra_run_dir
    from jobmatch.cli.errors import hydra_command

    @hydra.main(config_path=str(CONF), config_name="pipeline", version_base="1.3")
    def main(cfg: DictConfig) -> None:
        use_hydra_run_dir(cfg)
        task_wrapper(pipeline)(cfg)

    monkeypatch.setattr(sys, "argv", ["jobmatch.pipeline", *overrides])
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    try:
        hydra_command(main)
    except SystemExit as status:
        return int(status.code or 0)
    return 0


@pytest.mark.slow
def test_the_refusal_names_the_invalidated_steps_and_its_command_redoes_them(tmp_path: Path, monkeypatch,
                                                                             capsys) -> None:
    root = tmp_path / "run"
    args = ["model=tiny_bert", "logger=none", "trainer.max_epochs=1", "trainer2.max_epochs=1",
            "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "data.batch_size=4",
            *split_files(tmp_path), "curriculum.rounds=0", "eval.baselines=[]", "annotate.top_k=10",
            "annotate.pairs_per_query=2", "annotate.test_pairs_per_query=2", f"paths.run_dir={root}",
            f"paths.output_dir={tmp_path / 'out'}"]
    assert pipeline_command(monkeypatch, *args) == 0
    capsys.readouterr()

    assert pipeline_command(monkeypatch, *args, "data.batch_size=2") == 2
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "(data.batch_size: 4 -> 2), which invalidates its steps stage1, annotate, stage2" in line
    command = line.split("redo them with: ", 1)[1]
    assert command.startswith(f"rm -r {root / 'stage1'} {root / 'annotate'} {root / 'stage2'} && python -m "
                              "jobmatch.pipeline ")
    assert command.endswith(" data.batch_size=2 'resume.allow_changes=[data.batch_size]'")
    # allowing the change without redoing the steps: refused the same way, with the same command
    assert pipeline_command(monkeypatch, *args, "data.batch_size=2", "resume.allow_changes=[data.batch_size]") == 2
    [again] = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "its steps stage1, annotate, stage2 were made with another config" in again
    assert again.split("redo them with: ", 1)[1] == command

    # follow the suggestion, as a user would, in a shell
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env |= {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", "OMP_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert OmegaConf.load(root / "config.yaml").data.batch_size == 2
    assert OmegaConf.load(root / "stage1" / "round0" / "train" / "config.yaml").data.batch_size == 2
    assert json.loads((root / "config_changes.json").read_text()) == [{"key": "data.batch_size", "old": 4, "new": 2}]
    assert "test/alignment" in json.loads((root / "results.json").read_text())
