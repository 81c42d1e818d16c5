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


# A first cut of a text before tokenising: this many characters per token of the limit (real profiles run
# ~4-5 characters per MiniLM token; a cut that proves too short is doubled, so this only sets the speed).
CHARS_PER_TOKEN = 6
_CUT_AT = (" ", "\n", "\t", "\r")


def text_head(text: str, max_chars: int) -> str:
    """The longest prefix of ``text`` of at most ``max_chars`` characters that ends right before a whitespace
    character (a pre-tokeniser boundary for WordPiece, byte-level BPE and SentencePiece), or the whole text
    when it is short or has no such boundary."""
    if len(text) <= max_chars:
        return text
    cut = max(text.rfind(c, 0, max_chars + 1) for c in _CUT_AT)
    return text[:cut] if cut > 0 else text


def special_layout(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """(leading, trailing) special tokens the tokenizer adds around one sequence (BERT: 1, 1; Llama: 1, 0)."""
    probe = "jobmatch"
    bare = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe)["input_ids"]
    for lead in range(len(full) - len(bare) + 1):
        if full[lead : lead + len(bare)] == bare:
            return lead, len(full) - lead - len(bare)
    raise ValueError(f"cannot find the text's tokens inside {type(tokenizer).__name__}'s special tokens")


def tokenize(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *, max_length: int, append_eos: bool = False
) -> list[list[int]]:
    """Token ids of each text, truncated, unpadded (the collator pads per batch); never tokenises a whole
    long text.

    Each text is first cut to a head of ``CHARS_PER_TOKEN`` characters per token at a whitespace boundary
    and the head is tokenised with a limit of one token more than needed: a head that still overflows
    gives exactly the ids the whole text would (its tokens are a prefix of the text's); a cut head that
    does not is cut again at twice the length. With ``append_eos`` the EOS id ends every sequence (after
    truncation to ``max_length - 1``), so that last-token pooling reads a state that has seen the whole text.
    """
    limit = max_length - 1 if append_eos else max_length
    _, trail = special_layout(tokenizer)
    ids: list[list[int]] = [[] for _ in texts]
    todo = list(range(len(texts)))
    chars = CHARS_PER_TOKEN * limit + 64
    while todo:
        heads = [text_head(texts[i], chars) for i in todo]
        out = tokenizer(heads, truncation=True, max_length=limit + 1, padding=False)["input_ids"]
        again = []
        for i, head, seq in zip(todo, heads, out, strict=True):
            if len(seq) > limit:  # overflowed: drop the last content token, as truncation at `limit` does
                seq = seq[: limit - trail] + seq[len(seq) - trail :]
            elif len(head) < len(texts[i]):  # cut, but the head was too short to fill the limit
                again.append(i)
                continue
            ids[i] = seq
        todo, chars = again, chars * 2
    if append_eos:
        eos = tokenizer.eos_token_id
        if eos is None:
            raise ValueError("append_eos is set but the tokenizer has no EOS token")
        ids = [[*seq, eos] for seq in ids]
    return ids
