"""Stage 2: the RankPO LightningModule (thin: encoder + rankpo_loss + sft_loss).

One module serves RankPO with a frozen or online reference, the reference-free SimRankPO and the
SFT baseline; they differ only in the stage options (conf/stage/{rankpo,simrankpo,sft,...}.yaml).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

from jobmatch.data.collate import PreferenceBatch, TokenBatch
from jobmatch.errors import OptionText
from jobmatch.losses import loss_variant, preference_rewards, sft_loss, validate_preference_options
from jobmatch.losses.options import PreferenceOptions
from jobmatch.losses.rankpo import PREFERENCE_OPTION_NAMES
from jobmatch.model import TextEncoder
from jobmatch.model.checkpoint import ARCHITECTURE_KEYS
from jobmatch.model.encoder import (
    activation_checkpointing_on,
    compile_encoder,
    enable_activation_checkpointing,
    keep_fp32_masters,
)
from jobmatch.model.loading import checkpoint_model_config, load_encoder
from jobmatch.modules.optim import build_optimizer
from jobmatch.modules.reference import reference_pass
from jobmatch.modules.soft_labels import pair_epsilon

log = logging.getLogger(__name__)

INIT_FIX = "pass init_ckpt a stage-1 checkpoint (<run_dir>/checkpoints/best.ckpt), or None for the base model"

# The options RankPOModule takes besides model, optim and init_ckpt: the loss options (PreferenceOptions) and two more.
RANKPO_OPTIONS = (*PREFERENCE_OPTION_NAMES, "disable_dropout", "loss_module")

# ARCHITECTURE_KEYS (jobmatch.model.checkpoint): stage 2 keeps the stage-1 values of these model-config
# keys; the others (lora, gradient_checkpointing) come from the current model config.


def stage2_model_config(
    init_ckpt: str | Path | None, model_cfg: Mapping[str, Any], stage1: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The stage-2 model config: the architecture of the stage-1 checkpoint, the rest (LoRA) from ``model_cfg``.

    ``stage1`` is the checkpoint's model config when the caller has read it already (a run reads it once);
    None reads it here (memory-mapped: the weights are not loaded).
    """
    model_cfg = dict(model_cfg)
    if not init_ckpt:
        return model_cfg
    stage1 = dict(stage1) if stage1 is not None else checkpoint_model_config(init_ckpt, fix=INIT_FIX)
    changed = [k for k in ARCHITECTURE_KEYS if k in model_cfg and model_cfg[k] != stage1.get(k)]
    if changed:
        names = ", ".join(f"{{{key}}}" for key in changed)  # model_cfg's keys, each an argument of the encoder
        verb = "differs" if len(changed) == 1 else "differ"
        log.warning(OptionText(f"{names} {verb} from {{init_ckpt}}'s; using the checkpoint's"))
    return {**model_cfg, **{k: stage1[k] for k in ARCHITECTURE_KEYS if k in stage1}}


def add_fresh_adapter(encoder: TextEncoder, model_cfg: Mapping[str, Any]) -> TextEncoder:
    """Wrap a plain (merged) encoder in a new LoRA adapter per ``model_cfg.lora``, or unfreeze it for
    full fine-tuning; ``model_cfg`` becomes the encoder's config (what checkpoints save)."""
    if encoder.uses_lora:
        raise ValueError("merge the previous adapter first (TextEncoder.merge_adapter)")
    lora = dict(model_cfg.get("lora") or {})
    if model_cfg.get("gradient_checkpointing", False) and not activation_checkpointing_on(encoder.backbone):
        enable_activation_checkpointing(encoder.backbone)
    # the weights' dtype is the encoder's own: an exact merge widens bf16 weights to fp32 (TextEncoder.merge_adapter)
    encoder.cfg = {**dict(model_cfg), "lora": lora, "dtype": encoder.cfg.get("dtype", model_cfg.get("dtype"))}
    if lora.get("enabled", False):
        encoder.backbone = encoder._wrap_lora(encoder.backbone)  # the encoder's own LoRA construction
    else:
        encoder.requires_grad_(True)  # a merged LoRA model comes back with its base frozen
    return encoder


def stage2_encoder(model_cfg: Mapping[str, Any], init_ckpt: str | Path | None = None) -> TextEncoder:
    """The stage-2 starting encoder: the stage-1 weights with LoRA merged, then a fresh adapter.

    ``model_cfg`` is the stage-2 model config (:func:`stage2_model_config`). Without ``init_ckpt``
    it is the architecture alone (weights from ``model_cfg``): what ``load_from_checkpoint``
    rebuilds before restoring the saved (merged + adapter) state dict.
    """
    if init_ckpt:
        encoder = load_encoder(init_ckpt)
        encoder.merge_adapter()
    else:
        encoder = TextEncoder({**model_cfg, "lora": {**(model_cfg.get("lora") or {}), "enabled": False}})
    return add_fresh_adapter(encoder, model_cfg)


def turn_off_dropout(module: nn.Module) -> None:
    """Set every dropout probability of ``module`` to 0: ``nn.Dropout`` layers and the float
    ``attention_dropout`` of attention layers that apply dropout functionally (Llama, Qwen)."""
    for layer in module.modules():
        if isinstance(layer, nn.Dropout):
            layer.p = 0.0
        elif isinstance(getattr(layer, "attention_dropout", None), float):
            layer.attention_dropout = 0.0


class RankPOModule(L.LightningModule):
    """Preference optimisation of the encoder on judged pairs (docs/design.md §1, Stage 2).

    Loss: ``rankpo_weight``·mean RankPO loss + ``sft_weight``·mean SFT loss. Reference modes:
    ``none`` (SimRankPO, SFT), ``frozen`` (precomputed stage-1 scores, set by the
    :class:`~jobmatch.modules.reference.ReferenceScores` callback) and ``online`` (the same scores
    computed every step with the adapter disabled; for comparison).

    Args:
        model: the stage-2 model config (primitives): the stage-1 architecture and the new LoRA settings.
        optim: optimiser settings (see :func:`jobmatch.modules.optim.build_optimizer`).
        loss_type: a registered loss variant (:mod:`jobmatch.losses.registry`): ``sigmoid``, ``hinge``,
            ``listwise``, or one its module registers.
        beta, temperature, gamma_beta_ratio, label_smoothing: see :func:`jobmatch.losses.rankpo_loss`
            (reference: sigmoid, β = 2, τ = 0.1).
        reference: ``none`` | ``frozen`` | ``online``.
        rankpo_weight, sft_weight: weights of the two loss terms.
        disable_dropout: set every dropout of the encoder (LoRA's included) to 0, as TRL's DPO trainer
            does by default: the eval-mode reference and the policy then score alike at step 0, and
            the rewards measure training rather than dropout noise.
        soft_labels: ``none`` (hard labels), ``probability`` or ``confidence``: train the sigmoid loss on the
            judge's preference probability, ε = 1 − p per pair (:mod:`jobmatch.modules.soft_labels`).
        loss_module: the module that registers ``loss_type`` when it is not built in (recorded; the
            application imports it before building the module).
        loss_options: the values of the variant's own options (its registered ``options`` dataclass), passed to
            its loss as keyword arguments; None: their defaults.
        init_ckpt: the stage-1 checkpoint this run started from (recorded; never reloaded).
        max_query_length, max_passage_length: the token limits the run trained with (recorded in the
            hyperparameters for ``jobmatch.export``; the DataModule applies them).
        encoder: the starting encoder (:func:`stage2_encoder`); None rebuilds the architecture from
            ``model``, as ``load_from_checkpoint`` does.
    """

    def __init__(
        self,
        model: Mapping[str, Any],
        optim: Mapping[str, Any],
        loss_type: str = "sigmoid",
        beta: float = 2.0,
        temperature: float = 0.1,
        gamma_beta_ratio: float = 0.0,
        label_smoothing: float = 0.0,
        reference: str = "frozen",
        rankpo_weight: float = 1.0,
        sft_weight: float = 0.0,
        disable_dropout: bool = True,
        init_ckpt: str | None = None,
        encoder: TextEncoder | None = None,
        max_query_length: int | None = None,
        max_passage_length: int | None = None,
        soft_labels: str = "none",
        loss_module: str | None = None,
        loss_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["encoder"], logger=False)  # the W&B config is the run's (wandb_meta)
        options = PreferenceOptions(**{k: self.hparams[k] for k in PREFERENCE_OPTION_NAMES})
        validate_preference_options(options, lora_enabled=bool((model.get("lora") or {}).get("enabled", False)),
                                    loss_options=loss_options)
        self.encoder = encoder if encoder is not None else stage2_encoder(model)
        if keep_fp32_masters(self.encoder) or self.encoder.cfg.get("dtype") != model.get("dtype"):
            self.hparams["model"]["dtype"] = self.encoder.cfg.get("dtype")  # what the saved weights are
        if disable_dropout:
            turn_off_dropout(self.encoder)
        # [P, 2] fp32 for frozen, on the CPU and not a buffer: a precision plugin that casts the module
        # (DeepSpeed's bf16 engine casts every floating buffer) would round the scores to bf16 (2^-9 near 0.5,
        # i.e. errors of ~0.04 in Δ/τ at τ = 0.1). A batch's rows move to its device at use.
        self.reference_scores = torch.empty(0, 2)
        # [P] fp32 per-pair ε with soft labels (set in setup from the DataModule's pairs), on the CPU as above
        self.pair_epsilon = torch.empty(0)

    @classmethod
    def from_stage1(
        cls, init_ckpt: str | None, model: Mapping[str, Any], *, stage1_model: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> RankPOModule:
        """The module starting from a stage-1 checkpoint (or, without one, from ``model``'s base weights);
        ``stage1_model``: the checkpoint's model config when already read (see :func:`stage2_model_config`)."""
        if not init_ckpt:
            log.warning(OptionText("{init_ckpt} is not set: stage 2 starts from the base model of model=..."))
        model = stage2_model_config(init_ckpt, model, stage1_model)
        encoder = stage2_encoder(model, init_ckpt)
        return cls(model=encoder.cfg, init_ckpt=str(init_ckpt) if init_ckpt else None, encoder=encoder, **options)

    def stage1_encoder(self) -> TextEncoder:
        """A fresh copy of the starting model: ``init_ckpt``'s encoder, or the base model without one."""
        init = self.hparams.get("init_ckpt")
        if init:
            return load_encoder(init)
        model = self.hparams["model"]
        return TextEncoder({**model, "lora": {**(model.get("lora") or {}), "enabled": False}})

    def set_reference_scores(self, scores: torch.Tensor) -> None:
        """Install the precomputed [P, 2] reference similarities, indexed by ``PreferenceBatch.index``."""
        self.reference_scores = scores.detach().float().cpu()

    def setup(self, stage: str) -> None:
        """With soft labels, the per-pair ε of every judged pair (train, val, test: ``PreferenceBatch.index``)."""
        source = self.hparams.get("soft_labels", "none")
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if source != "none" and datamodule is not None and hasattr(datamodule, "preference_records"):
            self.pair_epsilon = torch.from_numpy(pair_epsilon(datamodule.preference_records(), source))

    def batch_epsilon(self, batch: PreferenceBatch) -> torch.Tensor | float:
        """The ε of the batch's pairs [B] with soft labels, else ``stage.label_smoothing``."""
        if self.hparams.get("soft_labels", "none") == "none":
            return self.hparams["label_smoothing"]
        if self.pair_epsilon.shape[0] == 0:
            raise RuntimeError("soft_labels is set but no per-pair ε is: train through jobmatch.train, or "
                               "set pair_epsilon from jobmatch.modules.soft_labels.pair_epsilon()")
        return self.pair_epsilon[batch.index.cpu()].to(batch.index.device)

    def configure_model(self) -> None:
        """Compile the encoder when ``model.compile`` names a mode (Lightning calls this before fit/validate)."""
        compile_encoder(self.encoder, self.hparams["model"].get("compile"))

    def embed(self, tokens: TokenBatch) -> torch.Tensor:
        """[B, D] embeddings of a token batch."""
        return self.encoder(tokens.input_ids, tokens.attention_mask)

    def scores(self, batch: PreferenceBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy similarities (s(q, w), s(q, l)), each [B]: every distinct JD and talent is encoded once
        (JDs in one forward, talents in another), then gathered per pair."""
        queries = self.embed(batch.queries).float()  # [Uq, D]
        talents = self.embed(batch.talents).float()  # [Ut, D]
        query = queries[batch.query_index]  # [B, D]
        return (query * talents[batch.chosen_index]).sum(-1), (query * talents[batch.rejected_index]).sum(-1)

    def reference(self, batch: PreferenceBatch) -> tuple[torch.Tensor, torch.Tensor] | tuple[None, None]:
        """Reference similarities (s_ref(q, w), s_ref(q, l)) [B] each, or (None, None) without reference."""
        mode = self.hparams["reference"]
        if mode == "none":
            return None, None
        if mode == "online":
            with reference_pass(self.encoder):
                return self.scores(batch)
        if self.reference_scores.shape[0] == 0:
            raise RuntimeError("reference=frozen but no reference scores are set: train through "
                               "jobmatch.train (its ReferenceScores callback) or call set_reference_scores()")
        ref = self.reference_scores[batch.index.cpu()].to(batch.index.device)  # [B, 2] fp32
        return ref[:, 0], ref[:, 1]

    def rankpo_term(
        self, batch: PreferenceBatch, chosen: torch.Tensor, rejected: torch.Tensor,
        ref_chosen: torch.Tensor | None, ref_rejected: torch.Tensor | None,
    ) -> torch.Tensor:
        """The mean RankPO loss of the batch: the registered ``loss_type``'s (:mod:`jobmatch.losses.registry`) over
        its pairs, or, listwise, over the list terms of its JDs' judged talents; no term (a batch whose talents all
        tie in net wins) gives 0."""
        hp = self.hparams
        variant = loss_variant(hp["loss_type"])
        options = {"beta": hp["beta"], "temperature": hp["temperature"], "gamma_beta_ratio": hp["gamma_beta_ratio"]}
        if variant.kind == "listwise":
            options |= {"query_index": batch.query_index, "chosen_index": batch.chosen_index,
                        "rejected_index": batch.rejected_index}
        elif "label_smoothing" not in variant.rules_out:
            options["label_smoothing"] = self.batch_epsilon(batch)
        if variant.options is not None:  # the variant's own options, their defaults where unset
            options |= dataclasses.asdict(variant.options(**(hp.get("loss_options") or {})))
        terms = variant.loss(chosen, rejected, ref_chosen, ref_rejected, **options)  # [B] or [T]
        return terms.mean() if len(terms) else chosen.sum() * 0.0

    def preference_loss(self, batch: PreferenceBatch) -> dict[str, torch.Tensor]:
        """The total loss and every logged quantity (means over the batch)."""
        hp = self.hparams
        ref_chosen, ref_rejected = self.reference(batch)  # first: the eval-mode pass draws no dropout noise
        chosen, rejected = self.scores(batch)  # [B], [B]
        rankpo = self.rankpo_term(batch, chosen, rejected, ref_chosen, ref_rejected)
        sft = sft_loss(chosen, rejected, temperature=hp["temperature"]).mean()
        rewards = preference_rewards(chosen, rejected, ref_chosen, ref_rejected, beta=hp["beta"])
        with torch.no_grad():
            wins = (chosen > rejected).float() + 0.5 * (chosen == rejected).float()  # [B], ties count 0.5
        return {
            "loss": hp["rankpo_weight"] * rankpo + hp["sft_weight"] * sft,
            "rankpo_loss": rankpo,
            "sft_loss": sft,
            **{f"rewards/{k}": v.mean() for k, v in rewards.items()},
            "scores/chosen": chosen.detach().mean(),
            "scores/rejected": rejected.detach().mean(),
            "alignment": wins.mean(),
        }

    def training_step(self, batch: PreferenceBatch, batch_idx: int) -> torch.Tensor:
        out = self.preference_loss(batch)
        size = len(batch)
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=size)
        for key in ("rankpo_loss", "sft_loss", "alignment"):
            self.log(f"train/{key}", out[key], batch_size=size)
        for key in ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracy",
                    "scores/chosen", "scores/rejected"):
            self.log(key, out[key], batch_size=size)
        if self.hparams.get("soft_labels", "none") != "none":
            self.log("train/soft_label_epsilon", torch.as_tensor(self.batch_epsilon(batch)).float().mean(),
                     batch_size=size)
        passes = 2 if self.hparams["reference"] == "online" else 1  # the online reference encodes them again
        self.log("train/texts_encoded_per_step", float(passes * batch.texts_encoded), batch_size=size)
        return out["loss"]

    def validation_step(self, batch: PreferenceBatch, batch_idx: int) -> None:
        out = self.preference_loss(batch)
        size = len(batch)
        self.log("val/alignment", out["alignment"], prog_bar=True, sync_dist=True, batch_size=size)
        for key in ("loss", "rankpo_loss", "sft_loss"):
            self.log(f"val/{key}", out[key], sync_dist=True, batch_size=size)
        for key in ("accuracy", "margins"):
            self.log(f"val/rewards_{key}", out[f"rewards/{key}"], sync_dist=True, batch_size=size)

    def configure_optimizers(self) -> dict[str, Any]:
        return build_optimizer(self.parameters(), self.hparams["optim"], int(self.trainer.estimated_stepping_batches))
