"""Tokenizer loading and tokenisation shared by the encoder and the DataModule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from jobmatch.model.sources import resolve_model_source

# Markup of the reference talent profiles (docs/design.md §1).
MARKUP_TOKENS: tuple[str, ...] = (
    "<keyword>", "</keyword>", "<title>", "</title>", "<abstract>", "</abstract>", "<sep>",
)


def load_tokenizer(model_cfg: Mapping[str, Any]) -> PreTrainedTokenizerBase:
    """Load the tokenizer named by a model config (``tokenizer`` or ``name_or_path``).

    Adds the profile markup as special tokens when ``add_markup_tokens`` is set, sets the padding
    side, and gives decoder tokenizers without a pad token their EOS as padding.
    """
    source = model_cfg.get("tokenizer") or model_cfg.get("name_or_path")
    if not source:
        raise ValueError("model config needs 'tokenizer' or 'name_or_path'")
    kwargs: dict[str, Any] = {"trust_remote_code": bool(model_cfg.get("trust_remote_code", False))}
    if model_cfg.get("gguf_file"):
        kwargs["gguf_file"] = model_cfg["gguf_file"]
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_source(source), **kwargs)
    if model_cfg.get("add_markup_tokens", False):
        tokenizer.add_special_tokens({"additional_special_tokens": list(MARKUP_TOKENS)})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = model_cfg.get("padding_side", "right")
    return tokenizer


def tokenize(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *, max_length: int, append_eos: bool = False
) -> list[list[int]]:
    """Token ids of each text, truncated, unpadded (the collator pads per batch).

    With ``append_eos`` the EOS id ends every sequence (after truncation to ``max_length - 1``), so
    that last-token pooling reads a state that has seen the whole text.
    """
    limit = max_length - 1 if append_eos else max_length
    ids = tokenizer(list(texts), truncation=True, max_length=limit, padding=False)["input_ids"]
    if append_eos:
        eos = tokenizer.eos_token_id
        if eos is None:
            raise ValueError("append_eos is set but the tokenizer has no EOS token")
        ids = [[*seq, eos] for seq in ids]
    return ids
