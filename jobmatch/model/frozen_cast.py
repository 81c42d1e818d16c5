"""Hold frozen ``nn.Linear`` weights in the autocast dtype while training, so autocast has nothing to cast.

Under bf16 autocast every ``nn.Linear`` casts its weight and bias to bf16 on each call; the cast is cached
within a forward only for weights that require grad, so the frozen base weights of a LoRA model are
recast on every forward (18.7 % of a CPU stage-1 step, experiments/benchmarks/profile.md). Holding those
weights in bf16 for the duration of training removes the casts and changes nothing else: autocast would
compute ``x.bf16() @ W.bf16().T + b.bf16()`` either way, so the Linear outputs are bit-identical.

Only ``nn.Linear`` layers whose parameters all have ``requires_grad=False`` are cast: LayerNorms,
embeddings and trainable LoRA A/B keep their dtype. The fp32 originals are kept (the same tensor objects)
and put back by :func:`restore_frozen_linears`; checkpoints store them (:func:`substitute_originals`).

:class:`FrozenLinearCastHooks` wires this into a LightningModule (``model.frozen_linear_dtype``):
weights are cast at ``on_train_start`` (after any checkpoint restore) and restored around validation
(callbacks such as retrieval validation may run the encoder outside autocast), at ``on_train_end``,
``on_fit_end`` and on an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

log = logging.getLogger(__name__)

# model.frozen_linear_dtype values: auto, off (null / float32), or an explicit autocast dtype.
CAST_DTYPES = {"bfloat16": torch.bfloat16}
# Lightning precision -> the autocast dtype that ``auto`` holds frozen Linear weights in.
AUTO_DTYPES = {"bf16-mixed": torch.bfloat16}


def frozen_linear_names(module: nn.Module) -> list[str]:
    """Qualified names of the ``nn.Linear`` submodules whose parameters are all frozen."""
    names = []
    for name, layer in module.named_modules():
        params = list(layer.parameters(recurse=False))
        if isinstance(layer, nn.Linear) and params and not any(p.requires_grad for p in params):
            names.append(name)
    return names


@torch.no_grad()
def cast_frozen_linears(module: nn.Module, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Cast the weight and bias of every frozen ``nn.Linear`` of ``module`` to ``dtype``, in place.

    Returns:
        The original tensors (not copies), keyed by parameter name relative to ``module`` (its
        ``state_dict`` keys, e.g. ``encoder.backbone....query.base_layer.weight``); parameters already
        in ``dtype`` are left alone and not listed.
    """
    originals: dict[str, torch.Tensor] = {}
    for name in frozen_linear_names(module):
        layer = module.get_submodule(name)
        for pname, param in layer.named_parameters(recurse=False):
            if param.dtype == dtype:
                continue
            key = f"{name}.{pname}" if name else pname
            originals[key] = param.data
            param.data = param.data.to(dtype)  # the Parameter object stays: hooks and references keep working
    return originals


@torch.no_grad()
def restore_frozen_linears(module: nn.Module, originals: Mapping[str, torch.Tensor]) -> None:
    """Put back the tensors returned by :func:`cast_frozen_linears` (exactly: the same objects)."""
    for key, tensor in originals.items():
        param = module.get_parameter(key)
        param.data = tensor.to(param.device)  # a no-op move unless the module changed device meanwhile


def substitute_originals(state_dict: MutableMapping[str, Any], originals: Mapping[str, torch.Tensor]) -> None:
    """Replace the cast tensors of a ``state_dict`` (a checkpoint's) by the originals, in place."""
    for key, tensor in originals.items():
        if key in state_dict:
            state_dict[key] = tensor


def resolve_frozen_linear_dtype(setting: Any, precision: str) -> torch.dtype | None:
    """The dtype to hold frozen Linear weights in during training, or None to leave them.

    Args:
        setting: ``model.frozen_linear_dtype``: ``auto`` (the autocast dtype of a ``bf16-mixed``
            precision, else None), ``null``/``float32`` (off) or ``bfloat16`` (needs ``bf16-mixed``).
        precision: the trainer's precision string (``trainer.precision``, e.g. ``bf16-mixed``).
    """
    if setting is None or setting in ("float32", "none", False):
        return None
    if setting == "auto":
        return AUTO_DTYPES.get(str(precision))
    if setting not in CAST_DTYPES:
        raise ValueError(f"model.frozen_linear_dtype={setting!r}: use auto, null, float32 or {', '.join(CAST_DTYPES)}")
    dtype = CAST_DTYPES[setting]
    if AUTO_DTYPES.get(str(precision)) != dtype:
        raise ValueError(
            f"model.frozen_linear_dtype={setting} needs trainer.precision=bf16-mixed (got {precision}): "
            "without autocast the fp32 activations would meet bf16 weights"
        )
    return dtype


class _RestoreOnException(Callback):
    """Puts the fp32 weights back when fit fails (LightningModules get no ``on_exception`` hook)."""

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(pl_module, FrozenLinearCastHooks):
            pl_module.restore_frozen_linears()


class FrozenLinearCastHooks(L.LightningModule):
    """Mixin for a LightningModule with ``hparams["model"]`` (a model config): applies
    ``model.frozen_linear_dtype`` during the training loop. Put it before ``L.LightningModule``."""

    _frozen_originals: dict[str, torch.Tensor] | None = None  # a plain attribute: never a buffer, never saved
    _frozen_resume: bool = False  # re-cast after a validation run inside the training loop

    def frozen_linear_dtype(self) -> torch.dtype | None:
        """The dtype that the current trainer's precision and ``model.frozen_linear_dtype`` call for."""
        setting = (self.hparams.get("model") or {}).get("frozen_linear_dtype", "auto")
        return resolve_frozen_linear_dtype(setting, str(self.trainer.precision))

    def cast_frozen_linears(self) -> None:
        """Hold the frozen Linear weights in :meth:`frozen_linear_dtype` (no-op if off or already cast)."""
        dtype = self.frozen_linear_dtype()
        if dtype is None or self._frozen_originals is not None:
            return
        self._frozen_originals = cast_frozen_linears(self, dtype)
        if self._frozen_originals:
            log.info("holding %d frozen Linear tensors in %s for training", len(self._frozen_originals), dtype)

    def restore_frozen_linears(self) -> None:
        """Put the original (fp32) frozen Linear weights back (no-op if not cast)."""
        if self._frozen_originals is not None:
            restore_frozen_linears(self, self._frozen_originals)
            self._frozen_originals = None

    def on_train_start(self) -> None:
        # Not on_fit_start: some strategies restore checkpoint weights after it, into the cast tensors.
        self.cast_frozen_linears()

    def on_validation_start(self) -> None:
        # Validation callbacks may encode outside autocast (eval.bf16=false): they need the fp32 weights.
        self._frozen_resume = self._frozen_originals is not None
        self.restore_frozen_linears()

    def on_validation_end(self) -> None:
        if self._frozen_resume:
            self._frozen_resume = False
            self.cast_frozen_linears()

    def on_train_end(self) -> None:
        self.restore_frozen_linears()

    def on_fit_end(self) -> None:
        self.restore_frozen_linears()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self._frozen_originals:  # checkpoints hold the fp32 weights, as if never cast
            substitute_originals(checkpoint["state_dict"], self._frozen_originals)

    def configure_callbacks(self) -> list[Callback]:
        return [_RestoreOnException()]
