"""A checkpoint folder laid out as Lightning's DeepSpeed strategy writes one (deepspeed need not be installed).

``DeepSpeedStrategy.save_checkpoint`` drops ``state_dict`` and ``optimizer_states`` from Lightning's
checkpoint dict and passes the rest as DeepSpeed's client state; DeepSpeed writes ``latest`` (the tag),
``<tag>/mp_rank_00_model_states.pt`` (the module's weights in the training dtype, its own entries and the
client state) and one optimizer shard per rank (fp32 master weights, flattened).
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import torch


def write_deepspeed_folder(
    checkpoint: dict[str, Any], folder: Path, *, dtype: torch.dtype = torch.bfloat16, zero_stage: int = 2
) -> dict[str, torch.Tensor]:
    """Write ``checkpoint`` (a single-file Lightning checkpoint dict) as a DeepSpeed folder; returns the
    module weights written (cast to ``dtype``, as DeepSpeed's bf16 engine holds them; ZeRO-3: placeholders)."""
    tag = "checkpoint"
    (folder / tag).mkdir(parents=True)
    (folder / "latest").write_text(tag)
    weights = {k: v.to(dtype) if v.is_floating_point() else v for k, v in checkpoint["state_dict"].items()}
    module = {k: torch.empty(0, dtype=v.dtype) for k, v in weights.items()} if zero_stage == 3 else weights
    client = {k: v for k, v in checkpoint.items() if k not in ("state_dict", "optimizer_states")}
    states = {
        "module": module,
        "buffer_names": [],
        "optimizer": None,
        "param_shapes": [collections.OrderedDict((k, v.shape) for k, v in weights.items())],
        "frozen_param_shapes": None,
        "shared_params": {},
        "frozen_param_fragments": None,
        "lr_scheduler": None,
        "data_sampler": None,
        "random_ltd": None,
        "sparse_tensor_module_names": set(),
        "skipped_steps": 0,
        "global_steps": int(checkpoint.get("global_step", 0)),
        "global_samples": 0,
        "dp_world_size": 1,
        "mp_world_size": 1,
        "ds_config": {"zero_optimization": {"stage": zero_stage}, "bf16": {"enabled": dtype == torch.bfloat16}},
        "ds_version": "0.19.8",
        **client,
    }
    name = "zero_pp_rank_0_mp_rank_00_model_states.pt" if zero_stage == 3 else "mp_rank_00_model_states.pt"
    torch.save(states, folder / tag / name)
    masters = torch.cat([v.float().flatten() for v in checkpoint["state_dict"].values() if v.is_floating_point()])
    torch.save({"optimizer_state_dict": {"zero_stage": zero_stage, "single_partition_of_fp32_groups": [masters]}},
               folder / tag / "zero_pp_rank_0_mp_rank_00_optim_states.pt")
    return weights
