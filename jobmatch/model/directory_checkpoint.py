"""Read a checkpoint that Lightning's DeepSpeed strategy wrote: a directory, not a file.

``DeepSpeedStrategy.save_checkpoint(path)`` hands the checkpoint to DeepSpeed, which writes::

    best.ckpt/                              the path Lightning was given (a folder)
      latest                                a text file naming the tag folder ("checkpoint")
      checkpoint/
        mp_rank_00_model_states.pt          "module": the model's state dict, plus Lightning's own entries
                                            (hyper_parameters, epoch, global_step, loops, callbacks, ...)
        zero_pp_rank_R_mp_rank_00_optim_states.pt   one optimizer shard per rank (fp32 master weights)
      zero_to_fp32.py                       DeepSpeed's consolidation script (some versions)

Under ZeRO-1 and ZeRO-2 every rank keeps whole parameters, so the model-states file holds the full
weights, in the training dtype (bf16 under ``bf16-mixed``: DeepSpeed casts the module and keeps the fp32
masters in the optimizer shards). ZeRO-3 partitions the parameters themselves; its model-states files hold
placeholders, and the weights must be consolidated first (Lightning's
``lightning.pytorch.utilities.deepspeed.convert_zero_checkpoint_to_fp32_state_dict``).

:func:`read_directory_checkpoint` returns the dict a single-file Lightning checkpoint holds
(``state_dict``, ``hyper_parameters``, ...), read with ``weights_only=True`` like every other checkpoint,
so that evaluation, export, ``stage.init_ckpt`` and the pipeline read both layouts alike.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch

# DeepSpeed's own entries of a model-states file (not part of the Lightning checkpoint).
DEEPSPEED_KEYS = (
    "module", "buffer_names", "optimizer", "param_shapes", "frozen_param_shapes", "shared_params",
    "frozen_param_fragments", "lr_scheduler", "data_sampler", "random_ltd", "sparse_tensor_module_names",
    "csr_tensor_module_names", "skipped_steps", "global_steps", "global_samples", "dp_world_size",
    "mp_world_size", "ds_config", "ds_version", "iteration",
)
MODEL_STATES = "mp_rank_00_model_states.pt"  # ZeRO-1/2 (rank 0 of model parallelism)
ZERO3_MODEL_STATES = "zero_pp_rank_0_mp_rank_00_model_states.pt"
CONSOLIDATE_FIX = (
    "consolidate it into one file first: python -c \"from lightning.pytorch.utilities.deepspeed import "
    "convert_zero_checkpoint_to_fp32_state_dict as c; c('DIR', 'DIR.fp32.ckpt')\", then pass DIR.fp32.ckpt"
)


class DirectoryCheckpointError(ValueError):
    """A directory that is not a readable DeepSpeed checkpoint; the message is ``problem; fix: remedy``."""


def is_directory_checkpoint(path: Path) -> bool:
    """True when ``path`` is a folder (the DeepSpeed layout; a single-file checkpoint is a file)."""
    return path.is_dir()


def model_states_file(path: Path) -> Path:
    """The model-states file of a DeepSpeed checkpoint folder (the tag from ``latest``, else its only tag)."""
    latest = path / "latest"
    tags = [latest.read_text().strip()] if latest.is_file() else sorted(p.name for p in path.iterdir() if p.is_dir())
    for tag in tags:
        for name in (MODEL_STATES, ZERO3_MODEL_STATES):
            if (path / tag / name).is_file():
                return path / tag / name
    raise DirectoryCheckpointError(
        f"is a folder but not a DeepSpeed checkpoint (no <tag>/{MODEL_STATES} under it); "
        "fix: give a checkpoint file, or the folder Lightning's DeepSpeed strategy wrote"
    )


def _strip_prefix(key: str, prefix: str = "_forward_module.") -> str:
    """Keys of checkpoints written by Lightning < 2.1 carry the wrapper's prefix."""
    return key[len(prefix):] if key.startswith(prefix) else key


def read_directory_checkpoint(path: Path, *, mmap: bool = False) -> dict[str, Any]:
    """The Lightning checkpoint dict of a DeepSpeed folder: its client state plus ``state_dict``.

    Raises:
        DirectoryCheckpointError: not the DeepSpeed layout, or ZeRO-3 shards (``problem; fix``).
        Exception: whatever ``torch.load`` raises on an unreadable model-states file (the caller explains it).
    """
    states_path = model_states_file(path)
    mmap = mmap and zipfile.is_zipfile(states_path)  # only torch's zip format maps
    states = torch.load(states_path, map_location="cpu", weights_only=True, mmap=mmap)
    if not isinstance(states, dict) or not isinstance(states.get("module"), dict):
        raise DirectoryCheckpointError(f"{states_path.name} holds no 'module' state dict; fix: give another checkpoint")
    module = states["module"]
    shapes = states.get("param_shapes") or []
    if states_path.name == ZERO3_MODEL_STATES or (shapes and any(t.numel() == 0 for t in module.values())):
        raise DirectoryCheckpointError(f"holds ZeRO-3 shards, not whole weights; fix: {CONSOLIDATE_FIX}")
    checkpoint = {k: v for k, v in states.items() if k not in DEEPSPEED_KEYS}
    checkpoint["state_dict"] = {_strip_prefix(k): v for k, v in module.items()}
    return checkpoint
