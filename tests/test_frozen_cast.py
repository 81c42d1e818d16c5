"""Frozen Linear weights held in bf16 under bf16-mixed training (jobmatch/model/frozen_cast.py).

The cast must be invisible: the same loss and LoRA gradients as autocast's own per-forward casts, the fp32
weights back after fit, fp32 weights in every checkpoint, and nothing at all under 32-true.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from torch import nn

import jobmatch.train as train_mod
from jobmatch.losses import info_nce_loss
from jobmatch.model import TextEncoder
from jobmatch.model.frozen_cast import (
    cast_frozen_linears,
    frozen_linear_names,
    resolve_frozen_linear_dtype,
    restore_frozen_linears,
)
from jobmatch.modules.contrastive import ContrastiveModule
from tests.conftest import compose_config

BASE = "encoder.backbone.base_model.model.encoder.layer.0.attention.self.query.base_layer.weight"  # a frozen Linear
LORA_A = "encoder.backbone.base_model.model.encoder.layer.0.attention.self.query.lora_A.default.weight"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a shared 2-core machine they spin: 1 thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_encoder() -> TextEncoder:
    """tiny_bert with LoRA, B initialised non-zero (so every LoRA matrix gets a gradient), dropout off."""
    torch.manual_seed(0)
    encoder = TextEncoder(train_mod.container(compose_config(["model=tiny_bert"]).model))
    for name, param in encoder.named_parameters():
        if "lora_B" in name:
            nn.init.normal_(param, std=0.1)
    return encoder.eval()


def frozen_linear_keys(module: nn.Module) -> set[str]:
    """state_dict keys of the frozen Linear weights and biases."""
    return {
        f"{name}.{p}" for name in frozen_linear_names(module) for p, _ in module.get_submodule(name).named_parameters()
    }


def bf16_loss_and_grads(encoder: TextEncoder) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """InfoNCE of 4 queries x (1 + 1) passages under CPU bf16 autocast; (loss, LoRA gradients)."""
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 2000, (12, 24), generator=gen)  # [12, L]: 4 queries, 8 passages
    mask = torch.ones_like(ids)
    mask[1::2, 16:] = 0  # padding in half the rows
    encoder.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        emb = encoder(ids, mask)  # [12, D]
        loss = info_nce_loss(emb[:4], emb[4:], temperature=0.05, in_batch_negatives=True, group_size=2)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in encoder.named_parameters() if p.requires_grad}
    return loss.detach(), grads


def test_cast_touches_frozen_linears_only_and_restores_the_same_tensors() -> None:
    encoder = tiny_encoder()
    before = {name: (param.data, param.dtype) for name, param in encoder.named_parameters()}
    originals = cast_frozen_linears(encoder, torch.bfloat16)
    assert set(originals) == frozen_linear_keys(encoder)
    assert originals and all("base_layer" in key for key in originals)  # tiny_bert: every Linear carries LoRA
    for name, param in encoder.named_parameters():
        assert param.dtype == (torch.bfloat16 if name in originals else torch.float32), name
        if name in originals:
            assert originals[name].data_ptr() == before[name][0].data_ptr()  # the originals themselves, not copies
            assert torch.equal(param.data.float(), originals[name].bfloat16().float())
    assert not any(key for key in originals if "LayerNorm" in key or "embeddings" in key or "lora_" in key)
    assert cast_frozen_linears(encoder, torch.bfloat16) == {}  # already cast: nothing more to do
    restore_frozen_linears(encoder, originals)
    for name, param in encoder.named_parameters():
        assert param.data_ptr() == before[name][0].data_ptr() and param.dtype == before[name][1], name
        assert torch.equal(param.data, before[name][0]), name


def test_bf16_frozen_linears_give_the_autocast_loss_and_lora_grads() -> None:
    encoder = tiny_encoder()
    loss, grads = bf16_loss_and_grads(encoder)
    assert all(g.abs().sum() > 0 for g in grads.values())
    originals = cast_frozen_linears(encoder, torch.bfloat16)
    cast_loss, cast_grads = bf16_loss_and_grads(encoder)
    restore_frozen_linears(encoder, originals)
    torch.testing.assert_close(cast_loss, loss, rtol=0, atol=1e-6)
    assert grads.keys() == cast_grads.keys()
    for name in grads:
        assert cast_grads[name].dtype == torch.float32  # LoRA weights stay fp32 (and train in fp32)
        torch.testing.assert_close(cast_grads[name], grads[name], rtol=0, atol=1e-6, msg=name)


def test_resolve_frozen_linear_dtype() -> None:
    assert resolve_frozen_linear_dtype("auto", "bf16-mixed") is torch.bfloat16
    for precision in ("32-true", "bf16-true", "16-mixed", "64-true"):
        assert resolve_frozen_linear_dtype("auto", precision) is None
    for off in (None, "float32"):
        assert resolve_frozen_linear_dtype(off, "bf16-mixed") is None
    assert resolve_frozen_linear_dtype("bfloat16", "bf16-mixed") is torch.bfloat16
    with pytest.raises(ValueError, match=r"needs trainer\.precision=bf16-mixed"):
        resolve_frozen_linear_dtype("bfloat16", "32-true")
    with pytest.raises(ValueError, match="frozen_linear_dtype"):
        resolve_frozen_linear_dtype("float16", "bf16-mixed")


class Probe(Callback):
    """Records the dtype of a frozen Linear weight and of a LoRA weight in training batches and in validation."""

    def __init__(self) -> None:
        self.train: set[tuple[torch.dtype, torch.dtype]] = set()
        self.val: set[torch.dtype] = set()

    @staticmethod
    def dtypes(module: L.LightningModule) -> tuple[torch.dtype, torch.dtype]:
        return module.get_parameter(BASE).dtype, module.get_parameter(LORA_A).dtype

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self.train.add(self.dtypes(pl_module))

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.val.add(self.dtypes(pl_module)[0])  # what RetrievalValidation's (fp32) encoding sees


def train_with_probe(
    cfg: Any, monkeypatch: pytest.MonkeyPatch, ckpt_dir: Path, built: dict[str, Any] | None = None
) -> tuple[Probe, dict[str, Any]]:
    """``jobmatch.train.train`` with the probe and a checkpoint after every training step (weights cast then);
    ``built`` receives the module and a copy of its starting weights."""
    probe = Probe()
    every_step = ModelCheckpoint(dirpath=ckpt_dir, filename="{step}", every_n_train_steps=1, save_top_k=-1)
    build = train_mod.build_callbacks
    monkeypatch.setattr(train_mod, "build_callbacks", lambda *a, **k: [*build(*a, **k), every_step, probe])
    built = {} if built is None else built
    build_module = train_mod.build_module

    def keep_module(cfg: Any) -> Any:
        built["module"] = build_module(cfg)
        built["frozen"] = {k: v.clone() for k, v in built["module"].state_dict().items() if k.endswith(".weight")}
        return built["module"]

    monkeypatch.setattr(train_mod, "build_module", keep_module)
    train_mod.train(cfg)
    return probe, built


def assert_fp32_frozen(state: dict[str, torch.Tensor], reference: dict[str, torch.Tensor], keys: set[str]) -> None:
    for key in keys:
        assert state[key].dtype == torch.float32, key
        if key in reference:
            assert torch.equal(state[key], reference[key]), key


def test_bf16_fit_casts_in_training_restores_after_and_checkpoints_fp32(
    fast_cfg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = fast_cfg("trainer.precision=bf16-mixed", "eval.bf16=false", "trainer.max_epochs=2")
    probe, built = train_with_probe(cfg, monkeypatch, tmp_path / "steps")
    module: ContrastiveModule = built["module"]
    keys = frozen_linear_keys(module)
    assert probe.train == {(torch.bfloat16, torch.float32)}  # frozen base in bf16, LoRA fp32
    assert probe.val == {torch.float32}  # validation (fp32 retrieval encoding here) sees the fp32 weights
    assert module._frozen_originals is None
    assert_fp32_frozen(module.state_dict(), built["frozen"], keys)  # restored after fit, unchanged
    saved = sorted((tmp_path / "steps").glob("*.ckpt")) + sorted((Path(cfg.paths.run_dir) / "checkpoints").glob("*"))
    assert len(saved) >= 3
    for path in saved:
        state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
        assert_fp32_frozen(state, built["frozen"], keys)
        assert not any(t.dtype == torch.bfloat16 for t in state.values()), path

    # Resume (the run dir's last.ckpt, fp32) for one more epoch: cast again, restored again.
    monkeypatch.undo()
    cfg = fast_cfg("trainer.precision=bf16-mixed", "eval.bf16=false", "trainer.max_epochs=3")
    probe, resumed = train_with_probe(cfg, monkeypatch, tmp_path / "steps-resumed")
    assert resumed["module"].trainer.current_epoch == 3 and probe.train == {(torch.bfloat16, torch.float32)}
    assert_fp32_frozen(resumed["module"].state_dict(), built["frozen"], keys)


def test_auto_does_nothing_under_32_true_and_off_does_nothing_under_bf16(
    fast_cfg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    probe, _ = train_with_probe(fast_cfg("trainer.precision=32-true"), monkeypatch, tmp_path / "a")
    assert probe.train == {(torch.float32, torch.float32)}
    monkeypatch.undo()
    cfg = fast_cfg("trainer.precision=bf16-mixed", "model.frozen_linear_dtype=null", run="off")
    probe, _ = train_with_probe(cfg, monkeypatch, tmp_path / "b")
    assert probe.train == {(torch.float32, torch.float32)}


def test_exception_in_fit_restores_fp32(fast_cfg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = fast_cfg("trainer.precision=bf16-mixed")
    calls = {"n": 0}
    step = ContrastiveModule.training_step

    def failing_step(self: ContrastiveModule, *args: Any) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 2:
            assert self.get_parameter(BASE).dtype == torch.bfloat16
            raise RuntimeError("boom")
        return step(self, *args)

    monkeypatch.setattr(ContrastiveModule, "training_step", failing_step)
    built: dict[str, Any] = {}
    with pytest.raises(RuntimeError, match="boom"):
        train_with_probe(cfg, monkeypatch, tmp_path / "steps", built)
    assert calls["n"] == 2
    assert_fp32_frozen(built["module"].state_dict(), built["frozen"], frozen_linear_keys(built["module"]))
