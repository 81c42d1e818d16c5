"""The text encoder shared by both stages: HF backbone + pooling + L2 normalisation + LoRA."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel

from jobmatch.errors import OptionError, OptionText
from jobmatch.model.pooling import POOLINGS, pool
from jobmatch.model.sources import resolve_model_source
from jobmatch.model.tokenizer import MARKUP_TOKENS, load_tokenizer

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
HALF_DTYPES = (torch.bfloat16, torch.float16)

# model.compile: null (eager) or one of these torch.compile modes.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

# Where HF configs keep the dropout of the attention probabilities: BERT-likes, Llama-likes, GPT-2-likes.
ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout", "attn_pdrop")
# Where they keep the dropout of hidden states (embeddings, attention output, feed-forward output):
# BERT-likes, GPT-2-likes. Llama-likes have none.
HIDDEN_DROPOUT_KEYS = ("hidden_dropout_prob", "resid_pdrop")


def set_attention_dropout(config: PretrainedConfig, p: float) -> str:
    """Set the attention-probs dropout of a backbone config (before the model is built); the key it set."""
    return _set_dropout(config, p, "attention_dropout", ATTENTION_DROPOUT_KEYS)


def set_hidden_dropout(config: PretrainedConfig, p: float) -> str | None:
    """Set the hidden-state dropout of a backbone config (before the model is built); the key it set, or None
    for 0 on a config without one (Llama-likes: nothing to turn off)."""
    if p == 0.0 and not any(hasattr(config, key) for key in HIDDEN_DROPOUT_KEYS):
        return None
    return _set_dropout(config, p, "hidden_dropout", HIDDEN_DROPOUT_KEYS)


def _set_dropout(config: PretrainedConfig, p: float, option: str, keys: tuple[str, ...]) -> str:
    """Set the first of ``keys`` that ``config`` has to ``p``; ``option`` is the argument named in errors."""
    if not 0.0 <= p < 1.0:
        raise OptionError(f"{{{option}}}={p}: use a probability in [0, 1), or null for the checkpoint's")
    for key in keys:
        if hasattr(config, key):
            setattr(config, key, float(p))
            return key
    raise OptionError(f"{{{option}}}={p}: a {type(config).__name__} has none of {keys}; leave it null")


def _override_dropouts(config: PretrainedConfig, cfg: Mapping[str, Any]) -> None:
    """Apply ``model.attention_dropout`` and ``model.hidden_dropout`` (None: keep the config's value)."""
    if cfg.get("attention_dropout") is not None:
        set_attention_dropout(config, float(cfg["attention_dropout"]))
    if cfg.get("hidden_dropout") is not None:
        set_hidden_dropout(config, float(cfg["hidden_dropout"]))


def enable_activation_checkpointing(backbone: PreTrainedModel) -> None:
    """Recompute each layer's activations in backward (non-reentrant), under the name this transformers
    has: ``activation_checkpointing_enable`` (5.25 and later; ``gradient_checkpointing_enable`` is then a
    deprecated alias) or ``gradient_checkpointing_enable`` (5.24 and earlier)."""
    kwargs = {"use_reentrant": False}
    if hasattr(backbone, "activation_checkpointing_enable"):
        backbone.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def disable_activation_checkpointing(backbone: PreTrainedModel) -> None:
    """Turn activation checkpointing off again (either transformers name, as for enabling it)."""
    if hasattr(backbone, "activation_checkpointing_disable"):
        backbone.activation_checkpointing_disable()
    else:
        backbone.gradient_checkpointing_disable()


def activation_checkpointing_on(model: nn.Module) -> bool:
    """Whether any layer of ``model`` checkpoints its activations (the flag transformers sets on each layer,
    read directly: the property that reports it was renamed between transformers releases)."""
    return any(getattr(m, "gradient_checkpointing", False) is True for m in model.modules())


def _build_backbone(cfg: Mapping[str, Any]) -> PreTrainedModel:
    """Load pretrained weights (``name_or_path``) or build a random model from ``config``."""
    dtype = DTYPES[cfg.get("dtype", "float32")]
    attn = cfg.get("attn_implementation") or None
    trust = bool(cfg.get("trust_remote_code", False))
    overrides = any(cfg.get(key) is not None for key in ("attention_dropout", "hidden_dropout"))
    if cfg.get("config"):
        spec = dict(cfg["config"])
        config = AutoConfig.for_model(spec.pop("model_type"), **spec)
        if attn:
            config._attn_implementation = attn
        _override_dropouts(config, cfg)
        return AutoModel.from_config(config, dtype=dtype, trust_remote_code=trust)
    kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": trust}
    if attn:
        kwargs["attn_implementation"] = attn
    if cfg.get("gguf_file"):
        kwargs["gguf_file"] = cfg["gguf_file"]
    source = resolve_model_source(cfg["name_or_path"])
    if overrides:
        config_kwargs = {k: kwargs[k] for k in ("trust_remote_code", "gguf_file") if k in kwargs}
        config = AutoConfig.from_pretrained(source, **config_kwargs)
        _override_dropouts(config, cfg)
        kwargs["config"] = config
    return AutoModel.from_pretrained(source, **kwargs)


class TextEncoder(nn.Module):
    """Encode token batches into L2-normalised embeddings, s(q, p) = cosine similarity.

    Built from a plain model config (a Hydra ``model`` node as a dict), so that Lightning can save
    it as a hyperparameter and ``load_from_checkpoint`` rebuilds the same architecture.
    """

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__()
        self.cfg = dict(cfg)
        self.pooling = self.cfg.get("pooling", "mean")
        if self.pooling not in POOLINGS:
            raise OptionError(f"{{pooling}}={self.pooling}: expected one of {', '.join(POOLINGS)}")
        self.normalize = bool(self.cfg.get("normalize", True))
        self.tokenizer = load_tokenizer(self.cfg)
        backbone = _build_backbone(self.cfg)
        if getattr(backbone, "pooler", None) is not None:
            backbone.pooler = None  # BERT's pooler is unused: its weights would idle (and upset DDP)
        self.markup_token_ids: list[int] = []
        if self.cfg.get("add_markup_tokens", False):
            backbone.resize_token_embeddings(len(self.tokenizer))
            self.markup_token_ids = self.tokenizer.convert_tokens_to_ids(list(MARKUP_TOKENS))
        if self.cfg.get("gradient_checkpointing", False):
            enable_activation_checkpointing(backbone)
        self.backbone: PreTrainedModel | PeftModel = self._wrap_lora(backbone)
        self.train()  # from_pretrained returns eval mode; training code expects train mode (dropout on)

    def _wrap_lora(self, backbone: PreTrainedModel) -> PreTrainedModel | PeftModel:
        lora = self.cfg.get("lora") or {}
        if not lora.get("enabled", False):
            return backbone  # full fine-tuning: every parameter trains
        extra: dict[str, Any] = {}
        if self.markup_token_ids:
            extra["trainable_token_indices"] = self.markup_token_ids  # new markup rows train too
        config = LoraConfig(
            r=int(lora.get("r", 8)),
            lora_alpha=int(lora.get("alpha", 16)),
            lora_dropout=float(lora.get("dropout", 0.0)),
            target_modules=list(lora["target_modules"]),
            bias="none",
            **extra,
        )
        if self.cfg.get("gradient_checkpointing", False):
            backbone.enable_input_require_grads()
        return get_peft_model(backbone, config)

    @property
    def uses_lora(self) -> bool:
        """True when the backbone is wrapped by a LoRA adapter."""
        return isinstance(self.backbone, PeftModel)

    @property
    def embedding_dim(self) -> int:
        """Size D of the embeddings."""
        return int(self.backbone.config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Embed a token batch.

        Args:
            input_ids: [B, L].
            attention_mask: [B, L].
        Returns:
            [B, D] embeddings, unit norm when ``normalize`` (the default).
        """
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [B, L, H]
        emb = pool(hidden, attention_mask, self.pooling)  # [B, H]
        if self.normalize:
            emb = nn.functional.normalize(emb.float(), dim=-1)
        return emb

    @contextlib.contextmanager
    def adapter_disabled(self) -> Iterator[None]:
        """Run the base model without the LoRA adapter (the frozen reference of stage 2)."""
        if not self.uses_lora:
            raise RuntimeError("adapter_disabled needs a LoRA-wrapped encoder (a config with lora enabled)")
        with self.backbone.disable_adapter():
            yield

    def merge_adapter(self) -> None:
        """Fold the LoRA weights into the base weights and drop the adapter, exactly.

        Half-precision base weights (``model.dtype: bfloat16``) are first widened to fp32 (exact) and the
        merged model stays fp32 (``cfg["dtype"]`` says so): stored back in bf16, W + ΔW moves to the nearest
        bf16 value, whose spacing near |W| ≈ 0.02 is 1.2e-4, and a stage-1 update of ‖ΔW‖/‖W‖ = 1e-2 lost 17%
        of itself (3e-3: 48%; experiments/gpu/bf16_merge.py). Under bf16 autocast the matmuls still cast the
        merged weights to bf16, so bf16 compute sees the rounded update (measured: 29% of the embedding change
        lost at 1e-2, exact merge or not); only an unmerged adapter keeps it there.
        """
        if not self.uses_lora:
            return
        if any(p.dtype in HALF_DTYPES for p in self.backbone.parameters()):
            self.backbone.float()
            self.cfg["dtype"] = "float32"
        self.backbone = self.backbone.merge_and_unload()


def keep_fp32_masters(encoder: TextEncoder) -> bool:
    """Widen the encoder to fp32 when it would train half-precision parameters (full fine-tuning of a
    ``model.dtype: bfloat16`` model); returns True when it did. A LoRA encoder trains fp32 adapters over its
    frozen base and is left alone.

    Lightning's ``bf16-mixed`` autocasts the computation but keeps no fp32 copy of bf16 parameters: AdamW
    would add updates of ~lr (1e-5) to bf16 weights whose spacing near 0.02 is 1.2e-4, and most would round
    away. With fp32 weights the matmuls still run in bf16 under autocast.
    """
    if not any(p.requires_grad and p.dtype in HALF_DTYPES for p in encoder.parameters()):
        return False
    log.warning(OptionText("{dtype}=%s with every weight trained: training in float32 weights (bf16 compute under "
                           "bf16-mixed), since bf16 weights keep no fp32 master copy"), encoder.cfg.get("dtype"))
    encoder.float()
    encoder.cfg["dtype"] = "float32"
    return True


def compile_encoder(encoder: TextEncoder, mode: str | None) -> bool:
    """Compile ``encoder`` in place with ``torch.compile(mode=mode)``; ``None`` keeps it eager.

    In place (``nn.Module.compile``): parameter names, ``state_dict`` and checkpoints stay those of
    the eager model. Compilation is lazy (at the first call) and happens once per grad mode, adapter
    state and, after the first new sequence length, once for dynamic shapes. Idempotent.

    Returns:
        True when the encoder is (now) compiled.
    """
    if mode is None:
        return False
    if mode not in COMPILE_MODES:
        raise OptionError(f"{{compile}}={mode}: expected null (eager) or one of {', '.join(COMPILE_MODES)}")
    if getattr(encoder, "_compiled_call_impl", None) is None:
        encoder.compile(mode=mode)
    return True
