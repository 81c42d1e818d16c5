"""bf16 weights at the stage handover: the stage-1 LoRA merges exactly (no bf16 rounding of W + ΔW), and full
fine-tuning of a bf16 model trains fp32 master weights (bf16-mixed keeps no fp32 copy of bf16 parameters)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from jobmatch.app.builders import build_datamodule, build_module
from jobmatch.model.loading import load_encoder
from jobmatch.modules.rankpo import stage2_encoder
from tests.helpers import FAST, compose_config

pytestmark = pytest.mark.usefixtures("one_thread")
BF16_LLAMA = [*FAST, "model=tiny_llama", "model.dtype=bfloat16", "model.config.hidden_size=64",
              "model.config.intermediate_size=128", "+model.config.initializer_range=0.02"]


def adapted(encoder) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per LoRA-adapted linear layer: (base weight as stored, the adapter's update ΔW in fp32)."""
    out = {}
    for name, module in encoder.backbone.named_modules():
        if hasattr(module, "lora_B") and "default" in module.lora_B:
            a, b = module.lora_A["default"].weight.float(), module.lora_B["default"].weight.float()
            out[name.removeprefix("base_model.model.")] = (module.base_layer.weight.detach().clone(),
                                                           module.scaling["default"] * (b @ a).detach())
    return out


def small_update(encoder, relative: float = 3e-3) -> None:
    """Set every LoRA B so that ‖ΔW‖ = ``relative`` · ‖W‖ per matrix: below bf16's spacing near |W|."""
    gen = torch.Generator().manual_seed(0)
    for module in encoder.backbone.modules():
        if hasattr(module, "lora_B") and "default" in module.lora_B:
            a, b = module.lora_A["default"].weight, module.lora_B["default"].weight
            w = module.base_layer.weight.float()
            with torch.no_grad():
                b.copy_(torch.randn(b.shape, generator=gen))
                b.mul_(relative * w.norm() / (module.scaling["default"] * (b.float() @ a.float())).norm())


@pytest.fixture
def stage1_ckpt(tmp_path: Path) -> tuple[Path, dict]:
    """A saved bf16 stage-1 LoRA module with a small update; (file, its adapted weights)."""
    module = build_module(compose_config(BF16_LLAMA, run_dir=tmp_path / "s1"))
    small_update(module.encoder)
    ckpt = tmp_path / "stage1.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, ckpt)
    return ckpt, adapted(module.encoder)


def test_stage2_starts_from_the_exact_merge(stage1_ckpt, tmp_path: Path) -> None:
    ckpt, parts = stage1_ckpt
    model = dict(load_encoder(ckpt).cfg)
    start = stage2_encoder(model, str(ckpt))
    merged = {n.removeprefix("base_model.model.").removesuffix(".base_layer"): m.weight
              for n, m in start.backbone.named_modules() if n.endswith("base_layer")}
    assert merged.keys() == parts.keys()
    lost, total = 0.0, 0.0
    for name, (w, delta) in parts.items():
        assert w.dtype == torch.bfloat16
        lost += float((merged[name] - (w.float() + delta)).pow(2).sum())
        total += float(delta.pow(2).sum())
    assert (lost / total) ** 0.5 < 1e-5  # a bf16 merge lost ~48% of this update
    assert start.cfg["dtype"] == "float32"


def test_stage2_checkpoint_records_fp32_and_reloads_exactly(stage1_ckpt, tmp_path: Path) -> None:
    ckpt = stage1_ckpt[0]
    cfg = compose_config([*BF16_LLAMA, "stage=simrankpo", f"stage.init_ckpt={ckpt}"], run_dir=tmp_path / "run")
    module = build_module(cfg)
    assert module.hparams["model"]["dtype"] == "float32"
    saved = tmp_path / "stage2.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, saved)
    reloaded = load_encoder(saved)
    for (name, a), b in zip(module.encoder.state_dict().items(), reloaded.state_dict().values(), strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b), name


def test_merge_for_export_is_exact(stage1_ckpt) -> None:
    ckpt, parts = stage1_ckpt
    encoder = load_encoder(ckpt)
    encoder.merge_adapter()
    weights = dict(encoder.backbone.named_parameters())
    for name, (w, delta) in parts.items():
        assert torch.allclose(weights[f"{name}.weight"], w.float() + delta, rtol=0, atol=1e-7), name


def test_full_fine_tuning_of_a_bf16_model_trains_fp32_masters(tmp_path: Path) -> None:
    cfg = compose_config([*BF16_LLAMA, "model.lora.enabled=false", "stage.optim.lr=1e-5",
                          "stage.optim.warmup_ratio=0.0"], run_dir=tmp_path / "run")
    module = build_module(cfg)
    assert {p.dtype for p in module.parameters()} == {torch.float32}
    assert module.hparams["model"]["dtype"] == "float32"
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    trainer = L.Trainer(accelerator="cpu", precision="bf16-mixed", max_steps=2, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(module, datamodule=build_datamodule(cfg))
    layers = [n for n in before if ".layers." in n]
    changed = sum(int((module.get_parameter(n) != before[n]).float().mean() > 0.5) for n in layers)
    assert changed == len(layers)  # lr 1e-5 steps on bf16 weights near 0.02 (spacing 1.2e-4) would mostly round away


def test_reference_scores_stay_fp32_when_the_module_is_cast_to_bf16(tmp_path: Path) -> None:
    """DeepSpeed's bf16 engine casts the module (``module.bfloat16()``): the precomputed stage-1 scores must not
    follow, or Δ_ref would carry bf16 rounding (2^-9 near 0.5) into every step's loss."""
    cfg = compose_config([*FAST, "stage=rankpo", "stage.reference=frozen"], run_dir=tmp_path / "run")
    module = build_module(cfg)
    scores = torch.tensor([[0.512345, 0.498765], [0.301234, 0.299876]])
    module.set_reference_scores(scores)
    module.bfloat16()
    batch = type("Batch", (), {"index": torch.tensor([1, 0])})()
    chosen, rejected = module.reference(batch)  # type: ignore[arg-type]
    assert chosen.dtype == torch.float32
    assert torch.equal(chosen, scores[[1, 0], 0]) and torch.equal(rejected, scores[[1, 0], 1])
