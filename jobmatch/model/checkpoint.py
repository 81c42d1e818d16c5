"""Read jobmatch checkpoints safely and tell what they hold (stage, model) before any weights load.

Every checkpoint is read with ``weights_only=True`` (tensors and plain values, no code execution).
A file that cannot be read that way is explained in one line (:class:`CheckpointError`), never
with torch's advice to retry unsafely.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from jobmatch.errors import UserError
from jobmatch.model.directory_checkpoint import (
    DirectoryCheckpointError,
    is_directory_checkpoint,
    model_states_file,
    read_directory_checkpoint,
)
from jobmatch.model.integrity import corruption

# Model-config keys that define the architecture, weights and tokenisation of a checkpoint.
ARCHITECTURE_KEYS = (
    "name_or_path",
    "tokenizer",
    "config",
    "pooling",
    "normalize",
    "padding_side",
    "append_eos",
    "add_markup_tokens",
    "gguf_file",
    "trust_remote_code",
    "dtype",
    "attn_implementation",
)
# The keys of those that must match for saved weights to fit a model (dtype and attention kernel need not).
IDENTITY_KEYS = tuple(k for k in ARCHITECTURE_KEYS if k not in ("dtype", "attn_implementation", "trust_remote_code"))
# LoRA keys that change the names or shapes of the saved weights.
LORA_SHAPE_KEYS = ("enabled", "r", "target_modules")

STAGE_LABELS = {"contrastive": "stage 1 (contrastive)", "rankpo": "stage 2 (rankpo module)"}
DEFAULT_FIX = "point it at a checkpoint written by jobmatch.train (<run_dir>/checkpoints/best.ckpt or last.ckpt)"


class CheckpointError(UserError):
    """A checkpoint file that is missing, unreadable, or of another stage or model."""


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """A checkpoint path that names no file."""


def _unreadable_reason(path: Path, error: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` failed on ``path``, in a few words (never torch's advice)."""
    if path.stat().st_size == 0:
        return "is empty (0 bytes: an interrupted save?)"
    with path.open("rb") as handle:
        head = handle.read(2)
    if head == b"PK" and not zipfile.is_zipfile(path):
        return "is truncated (an incomplete archive: an interrupted save or copy?)"
    if head[:1] not in (b"P", b"\x80"):  # neither torch's zip format nor a binary pickle
        return "is not a PyTorch checkpoint (unknown format)"
    if isinstance(error, pickle.UnpicklingError) and "weights only" in str(error).lower():
        return "holds Python objects besides tensors and plain values; jobmatch does not unpickle them (unsafe)"
    return f"is not a readable PyTorch checkpoint ({type(error).__name__})"


def read_checkpoint(path: str | Path, *, mmap: bool = False, fix: str = DEFAULT_FIX) -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True`` on CPU; ``mmap`` maps the tensors instead of reading them.

    Raises:
        MissingCheckpointError: no such file.
        CheckpointError: empty, truncated, garbage, or holding arbitrary objects (``FILE: problem; fix``).
    """
    path = Path(path)
    if is_directory_checkpoint(path):  # Lightning's DeepSpeed strategy saves a folder
        return _read_folder(path, mmap=mmap, fix=fix)
    if not path.is_file():
        raise MissingCheckpointError(f"{path}: no such checkpoint file; fix: {fix}")
    verify_integrity(path, fix)
    mmap = mmap and zipfile.is_zipfile(path)  # only torch's zip format maps; anything else is read plainly
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:  # torch raises EOFError, KeyError, RuntimeError, UnpicklingError, OSError, ...
        raise CheckpointError(f"{path}: {_unreadable_reason(path, error)}; fix: {fix}") from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: holds a {type(checkpoint).__name__}, not a checkpoint dict; fix: {fix}")
    return checkpoint


def verify_integrity(path: Path, fix: str = DEFAULT_FIX) -> None:
    """Refuse, in one line naming ``path``, an archive with a record whose bytes fail their CRC-32
    (a bit flipped on disk or in a copy): ``torch.load`` would load the damaged weights silently."""
    problem = corruption(path)
    if problem:
        raise CheckpointError(f"{path}: is corrupt ({problem}: damaged on disk or in a copy); fix: {fix}")


def _read_folder(path: Path, *, mmap: bool, fix: str) -> dict[str, Any]:
    """:func:`read_directory_checkpoint` with its errors as one-line :class:`CheckpointError`."""
    try:
        verify_integrity(model_states_file(path), fix)
        return read_directory_checkpoint(path, mmap=mmap)
    except CheckpointError:
        raise
    except DirectoryCheckpointError as error:
        problem, _, own_fix = str(error).partition("; fix: ")
        raise CheckpointError(f"{path}: {problem}; fix: {own_fix or fix}") from None
    except Exception as error:
        states = model_states_file(path)
        raise CheckpointError(f"{states}: {_unreadable_reason(states, error)}; fix: {fix}") from None


@dataclass(frozen=True)
class CheckpointInfo:
    """What a jobmatch checkpoint holds: its training module (stage), its model config and, when saved
    (checkpoints written since the module hyperparameters record them), its token limits."""

    path: Path
    module: str | None  # "contrastive", "rankpo", or None for another LightningModule
    model: dict[str, Any]
    token_limits: tuple[int, int] | None = None  # (max_query_length, max_passage_length)

    @property
    def stage_label(self) -> str:
        return STAGE_LABELS.get(self.module or "", "an unknown stage")


def inspect_checkpoint(path: str | Path, *, fix: str = DEFAULT_FIX) -> CheckpointInfo:
    """The stage and model of a Lightning checkpoint, from its ``hyper_parameters`` (weights memory-mapped,
    not read). The stage-2 module saves its loss options (``loss_type``); stage 1 its ``in_batch_negatives``."""
    return checkpoint_info(path, read_checkpoint(path, mmap=True, fix=fix), fix=fix)


def checkpoint_info(path: str | Path, checkpoint: Mapping[str, Any], *, fix: str = DEFAULT_FIX) -> CheckpointInfo:
    """:func:`inspect_checkpoint` of a checkpoint already read from ``path``."""
    hparams = checkpoint.get("hyper_parameters")
    if (
        not isinstance(hparams, Mapping)
        or not isinstance(hparams.get("model"), Mapping)
        or "state_dict" not in checkpoint
    ):
        raise CheckpointError(f"{path}: not a jobmatch training checkpoint (no model hyperparameters); fix: {fix}")
    module = "rankpo" if "loss_type" in hparams else "contrastive" if "in_batch_negatives" in hparams else None
    limits = hparams.get("max_query_length"), hparams.get("max_passage_length")
    token_limits = (int(limits[0]), int(limits[1])) if None not in limits else None
    return CheckpointInfo(Path(path), module, dict(hparams["model"]), token_limits)


def _shape_view(model: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a model config that must match for weights to load: architecture and LoRA shape."""
    view = {key: model[key] for key in IDENTITY_KEYS if key in model}
    lora = model.get("lora") or {}
    view.update({f"lora.{key}": lora[key] for key in LORA_SHAPE_KEYS if key in lora})
    if not view.get("lora.enabled", False):  # without LoRA its other settings make no weights
        view = {k: v for k, v in view.items() if not k.startswith("lora.") or k == "lora.enabled"}
    return view


def model_differences(saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """``key: saved vs wanted`` for each architecture key set in both configs that differs
    (dicts such as ``config`` compared key by key); empty when the weights fit."""
    a, b = _shape_view(saved), _shape_view(wanted)
    out = []
    for key in (k for k in a if k in b and a[k] != b[k]):
        if isinstance(a[key], Mapping) and isinstance(b[key], Mapping):
            sub = sorted(k for k in set(a[key]) | set(b[key]) if a[key].get(k) != b[key].get(k))
            out += [f"model.{key}.{k}: {a[key].get(k)!r} vs {b[key].get(k)!r}" for k in sub]
        else:
            out.append(f"model.{key}: {a[key]!r} vs {b[key]!r}")
    return out


def check_checkpoint(
    path: str | Path,
    option: str,
    *,
    model: Mapping[str, Any],
    module: str | None = None,
    stage_name: str = "",
    fix: str = DEFAULT_FIX,
    init_option: str = "init_ckpt",
) -> CheckpointInfo:
    """Refuse, in one line, a checkpoint of another stage (``module``, if given) or another model.

    ``option`` is how the user named the file (``ckpt_path``, ``stage.init_ckpt``), ``init_option`` how they name a
    stage-1 checkpoint that stage 2 starts from; ``model`` the model config the weights must load into.
    """
    info = inspect_checkpoint(path, fix=fix)
    if module is not None and info.module != module:
        hint = (
            f"to start stage 2 from it, pass it as {init_option} instead"
            if info.module == "contrastive"
            else "give a checkpoint of this stage, or none to start afresh"
        )
        raise CheckpointError(
            f"{path}: {option} is a {info.stage_label} checkpoint but this run is "
            f"{STAGE_LABELS.get(module, module)} (stage={stage_name}); fix: {hint}"
        )
    differences = model_differences(info.model, model)
    if differences:
        shown = "; ".join(differences[:3]) + ("; ..." if len(differences) > 3 else "")
        raise CheckpointError(
            f"{path}: {option} holds another model (checkpoint vs this run: {shown}); "
            f"fix: use the model=... the checkpoint was trained with, or another checkpoint"
        )
    return info
