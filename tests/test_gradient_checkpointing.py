"""Gradient (activation) checkpointing: what a user turns on to fit long texts in memory. A stage-1 and a
stage-2 step with it on give the loss and gradients of the same step with it off, and the layers really
run twice (forward, then again in backward)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from jobmatch.app.builders import build_datamodule, build_module
from tests.helpers import FAST, FIXTURES, compose_config

pytestmark = pytest.mark.usefixtures("one_thread")

NO_DROPOUT = {
    "tiny_bert": ["+model.config.hidden_dropout_prob=0.0", "+model.config.attention_probs_dropout_prob=0.0"],
    "tiny_llama": [],  # Llama has no hidden dropout and attention_dropout 0 by default
}


def inside_first_block(module: L.LightningModule) -> torch.nn.Module:
    """The attention of the first transformer block (BERT: encoder.layer[0], Llama: layers[0]): a module that
    the block's forward calls, so that a recomputation in backward calls it again (transformers checkpoints
    the block's ``forward``, not its ``__call__``: hooks on the block itself fire once)."""
    blocks = [m for name, m in module.encoder.named_modules() if name.endswith(("layer.0", "layers.0"))]
    return next(blocks[0].children())


class Capture(Callback):
    """The first step's loss and gradients (before the optimiser uses them)."""

    def __init__(self) -> None:
        self.loss: float | None = None
        self.grads: dict[str, torch.Tensor] = {}

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.grads = {n: p.grad.detach().clone() for n, p in pl_module.named_parameters() if p.grad is not None}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.loss = float(outputs["loss"])


def step(cfg, gc: bool) -> tuple[float, dict[str, torch.Tensor], int]:
    """(loss, gradients, calls into the first block) of one training step through Lightning."""
    cfg.model.gradient_checkpointing = gc
    L.seed_everything(0)
    module = build_module(cfg)
    calls = []
    inside_first_block(module).register_forward_hook(lambda *_: calls.append(1))
    capture = Capture()
    trainer = L.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=0, callbacks=[capture])
    trainer.fit(module, datamodule=build_datamodule(cfg))
    assert capture.loss is not None
    return capture.loss, capture.grads, len(calls)


def compare(cfg) -> None:
    loss_off, grads_off, calls_off = step(cfg, gc=False)
    loss_on, grads_on, calls_on = step(cfg, gc=True)
    assert calls_on > calls_off > 0  # with checkpointing the block runs again in backward
    assert loss_on == pytest.approx(loss_off, abs=1e-6)
    assert grads_on.keys() == grads_off.keys() and grads_on
    for name, grad in grads_off.items():
        assert torch.allclose(grads_on[name], grad, atol=1e-6, rtol=1e-4), name


@pytest.mark.parametrize("lora", [True, False])
@pytest.mark.parametrize("model", ["tiny_bert", "tiny_llama"])
def test_stage1_step_with_checkpointing_equals_without(tmp_path: Path, model: str, lora: bool) -> None:
    cfg = compose_config([*FAST, f"model={model}", *NO_DROPOUT[model], "model.lora.dropout=0.0",
                          f"model.lora.enabled={lora}"], run_dir=tmp_path / "run")
    compare(cfg)


@pytest.mark.parametrize("lora", [True, False])
@pytest.mark.parametrize("model", ["tiny_bert", "tiny_llama"])
def test_stage2_step_from_a_stage1_checkpoint_with_checkpointing(tmp_path: Path, model: str, lora: bool) -> None:
    """Stage 2 turns checkpointing on over a stage-1 model trained without it (the merged encoder)."""
    stage1 = build_module(compose_config([*FAST, f"model={model}", *NO_DROPOUT[model]], run_dir=tmp_path / "s1"))
    ckpt = tmp_path / "stage1.ckpt"
    torch.save({"state_dict": stage1.state_dict(), "hyper_parameters": dict(stage1.hparams)}, ckpt)
    cfg = compose_config([*FAST, f"model={model}", "stage=rankpo", "stage.reference=online", f"stage.init_ckpt={ckpt}",
                          f"model.lora.enabled={lora}", "model.lora.dropout=0.0",
                          f"data.preference_train_file={FIXTURES / 'preferences_tiny.jsonl'}"],
                         run_dir=tmp_path / "run")
    if not lora:
        cfg.stage.reference = "none"  # the online reference needs an adapter to switch off
    compare(cfg)
