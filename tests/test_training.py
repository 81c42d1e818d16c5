"""Training runs on tiny models: LoRA vs full fine-tuning, resume, results.json, the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from jobmatch.app.builders import build_datamodule
from jobmatch.app.train_task import train
from tests.helpers import FIXTURES, ROOT
from tests.helpers.training import fit_steps


@pytest.mark.parametrize("model", ["tiny_bert", "tiny_llama"])
def test_lora_trains_adapter_only(fast_cfg, model: str) -> None:
    cfg = fast_cfg(f"model={model}", "stage.optim.lr=1e-2", "stage.optim.warmup_ratio=0")
    before, after, module = fit_steps(cfg)
    trainable = {n for n, p in module.encoder.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    for name in before:
        changed = not torch.equal(before[name], after[name])
        assert changed == (name in trainable), f"{name}: changed={changed}"


def test_full_finetuning_changes_base(fast_cfg) -> None:
    cfg = fast_cfg("model.lora.enabled=false", "stage.optim.lr=1e-3", "stage.optim.warmup_ratio=0")
    before, after, module = fit_steps(cfg)
    assert not module.encoder.uses_lora
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    assert any("attention.self.query.weight" in n for n in changed)
    assert len(changed) > 0.8 * len(before)


def test_markup_tokens_resize_and_train(fast_cfg) -> None:
    cfg = fast_cfg("model.add_markup_tokens=true", "stage.optim.lr=1e-2", "stage.optim.warmup_ratio=0")
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    assert "<keyword>" in datamodule.tokenizer.get_vocab()
    before, after, _module = fit_steps(cfg)
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    assert any("trainable_tokens" in n for n in changed)


class StopAfterFirstEpoch(Callback):
    """Simulates a crash at the start of epoch 1, after epoch 0's checkpoint is on disk."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated interruption")


def test_resume_matches_uninterrupted_run(fast_cfg, monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = ("trainer.max_epochs=3", "logger=csv")
    full = train(fast_cfg(*overrides, run="full"))

    import jobmatch.app.train_task as entry

    original = entry.build_callbacks
    monkeypatch.setattr(entry, "build_callbacks", lambda *a, **k: [*original(*a, **k), StopAfterFirstEpoch()])
    cfg = fast_cfg(*overrides, run="resumed")
    with pytest.raises(RuntimeError, match="simulated interruption"):
        train(cfg)
    assert (Path(cfg.paths.run_dir) / "checkpoints" / "last.ckpt").exists()
    monkeypatch.setattr(entry, "build_callbacks", original)
    resumed = train(fast_cfg(*overrides, run="resumed"))

    assert resumed["trainer/global_step"] == full["trainer/global_step"]
    for key in ("train/loss", "val/loss", "val/group_acc"):
        assert resumed[key] == pytest.approx(full[key], abs=1e-6), key


def test_results_and_outputs(fast_cfg) -> None:
    cfg = fast_cfg("trainer.max_epochs=1")
    train(cfg)
    run_dir = Path(cfg.paths.run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    assert {"train/loss", "val/loss", "time/fit_s", "memory/peak_rss_mb"} <= set(results)
    assert (run_dir / "config.yaml").exists()
    assert (run_dir / "checkpoints" / "best.ckpt").exists()
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    # Hyperparameters are primitives: the checkpoint reloads without the config.
    from jobmatch.modules.contrastive import ContrastiveModule

    module = ContrastiveModule.load_from_checkpoint(run_dir / "checkpoints" / "best.ckpt", weights_only=True)
    assert module.encoder.uses_lora


@pytest.mark.slow
def test_cli_trains_and_writes_results(tmp_path: Path) -> None:
    run_dir = tmp_path / "cli"
    cmd = [sys.executable, "-m", "jobmatch.train", "model=tiny_llama", "logger=wandb",
           f"data.train_file={FIXTURES / 'contrastive_tiny.jsonl'}", "data.batch_size=4",
           "trainer.max_epochs=1", "trainer.enable_progress_bar=false", f"paths.run_dir={run_dir}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "WANDB_MODE": "offline"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((run_dir / "results.json").read_text())["trainer/global_step"] > 0
    assert any((run_dir / "wandb").glob("offline-run-*"))


@pytest.mark.slow
def test_cli_reports_bad_data_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"query": "q", "positives": [], "negatives": ["n"] * 5}) + "\n")
    cmd = [sys.executable, "-m", "jobmatch.train", "model=tiny_bert", "logger=none",
           f"data.train_file={bad}", f"paths.run_dir={tmp_path / 'run'}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert f"{bad}:1: 'positives' is empty" in proc.stderr
