"""Reruns into a run directory that holds a run: finished results kept, changed configs refused or applied."""

import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
from lightning.pytorch.callbacks import Callback

import jobmatch.app.train_task as entry
from jobmatch.app.train_task import train
from jobmatch.errors import ConfigError
from tests.helpers import ROOT
from tests.helpers.config import FAST

pytestmark = pytest.mark.usefixtures("one_thread")


class StopAtEpoch1(Callback):
    """Simulates a crash at the start of epoch 1, after epoch 0's checkpoint is on disk."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated interruption")


class RecordLR(Callback):
    """The learning rate schedule's base and the lr the first batch of this fit trains with."""

    def __init__(self) -> None:
        self.seen: list[tuple[list[float], float]] = []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        schedule = trainer.lr_scheduler_configs[0].scheduler
        self.seen.append((list(schedule.base_lrs), trainer.optimizers[0].param_groups[0]["lr"]))


def test_rerun_of_a_finished_run_keeps_its_metrics(fast_cfg) -> None:
    first = train(fast_cfg("trainer.max_steps=2"))
    run_dir = Path(fast_cfg().paths.run_dir)
    saved = (run_dir / "results.json").read_text()
    assert "train/loss" in first

    again = train(fast_cfg("trainer.max_steps=2"))

    assert (run_dir / "results.json").read_text() == saved
    assert again["train/loss"] == first["train/loss"] and again["trainer/global_step"] == 2


def test_rerun_with_another_lr_is_refused_naming_the_key(fast_cfg) -> None:
    train(fast_cfg("trainer.max_steps=2"))
    config = Path(fast_cfg().paths.run_dir) / "config.yaml"
    before = config.read_text()

    refused = r"stage\.optim\.lr: 0\.0001 -> 0\.01.*resume\.allow_changes=\[stage\.optim\.lr\]"
    with pytest.raises(ConfigError, match=refused):
        train(fast_cfg("trainer.max_steps=2", "stage.optim.lr=1e-2"))

    assert config.read_text() == before


def test_resume_with_an_allowed_lr_change_trains_with_it_and_records_it(fast_cfg, monkeypatch) -> None:
    overrides = ("trainer.max_epochs=2",)
    original = entry.build_callbacks
    monkeypatch.setattr(entry, "build_callbacks", lambda *a, **k: [*original(*a, **k), StopAtEpoch1()])
    with pytest.raises(RuntimeError, match="simulated interruption"):
        train(fast_cfg(*overrides))
    recorder = RecordLR()
    monkeypatch.setattr(entry, "build_callbacks", lambda *a, **k: [*original(*a, **k), recorder])

    train(fast_cfg(*overrides, "stage.optim.lr=1e-2", "resume.allow_changes=[stage.optim.lr]"))

    base_lrs, lr = recorder.seen[0]
    assert base_lrs == [pytest.approx(1e-2)] and lr > 1e-3  # 1e-4 would be the checkpoint's
    run_dir = Path(fast_cfg().paths.run_dir)
    assert json.loads((run_dir / "config_changes.json").read_text()) == [
        {"key": "stage.optim.lr", "old": 1e-4, "new": 1e-2}
    ]
    assert "lr: 0.01" in (run_dir / "config.yaml").read_text()


def test_ignored_keys_do_not_block_a_rerun(fast_cfg) -> None:
    first = train(fast_cfg("trainer.max_steps=2"))
    again = train(fast_cfg("trainer.max_steps=2", "trainer.enable_progress_bar=true", "logger=csv"))
    assert again == first


def test_allowed_change_that_adds_no_steps_keeps_the_metrics(fast_cfg) -> None:
    first = train(fast_cfg("trainer.max_steps=2"))

    again = train(fast_cfg("trainer.max_steps=2", "stage.optim.lr=1e-2", "resume.allow_changes=[stage.optim.lr]"))

    kept = {k for k in first if k.startswith(("train/", "val/", "checkpoint/"))}
    assert "train/loss" in kept
    assert {k: again.get(k) for k in kept} == {k: first[k] for k in kept}
    saved = json.loads((Path(fast_cfg().paths.run_dir) / "results.json").read_text())
    assert kept <= saved.keys() and saved["trainer/global_step"] == 2


def run_train_command(*overrides: str) -> subprocess.CompletedProcess:
    """``python -m jobmatch.train`` on the tiny model with ``overrides``, as a user runs it."""
    environ = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run([sys.executable, "-m", "jobmatch.train", *FAST, *overrides], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"})


@pytest.mark.slow
def test_a_refused_rerun_changes_nothing_in_the_run_dir(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    common = (f"paths.run_dir={run_dir}", f"paths.output_dir={tmp_path / 'out'}", "trainer.max_steps=2")
    assert run_train_command(*common).returncode == 0
    provenance = run_dir / ".hydra"
    assert "trainer.max_steps=2" in (provenance / "overrides.yaml").read_text()
    kept = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.suffix != ".log"}
    assert {provenance / n for n in ("config.yaml", "hydra.yaml", "overrides.yaml")} <= kept.keys()

    refused = run_train_command(*common, "stage.optim.lr=1e-2")
    assert refused.returncode == 2 and "error: paths.run_dir=" in refused.stderr

    now = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.suffix != ".log"}
    assert now.keys() == kept.keys()
    assert [p for p in kept if now[p] != kept[p]] == []


def test_an_option_added_since_at_its_null_default_is_no_change() -> None:
    from omegaconf import OmegaConf

    from jobmatch.app.run_config import config_changes

    saved = OmegaConf.create({"stage": {"name": "rankpo", "beta": 2.0}})
    added = OmegaConf.create({"stage": {"name": "rankpo", "beta": 2.0, "loss_module": None}})
    assert config_changes(saved, added) == []
    changed = OmegaConf.create({"stage": {"name": "rankpo", "beta": 2.0, "loss_module": "my.losses"}})
    assert config_changes(saved, changed) == [("stage.loss_module", "<absent>", "my.losses")]
