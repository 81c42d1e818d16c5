"""The text an encoder actually receives: each text cut where the encoder's token limit cuts it.

The offline judge reads whole profiles; the encoder sees only the first ``max_length`` tokens. Judging
the visible text instead tells how much of the judge's preference a model could recover at all from
what it is given (``test/alignment_visible_ceiling``, ``jobmatch.retrieval.preference_eval``).
"""

from __future__ import annotations

from collections.abc import Sequence

from transformers import PreTrainedTokenizerBase

from jobmatch.model.tokenizer import CHARS_PER_TOKEN, special_layout, text_head, tokenize


def _prefix_by_offsets(tokenizer: PreTrainedTokenizerBase, text: str, n_tokens: int) -> str:
    """The characters of ``text`` that its first ``n_tokens`` content tokens cover (fast tokenizers)."""
    if n_tokens <= 0:
        return ""
    chars = CHARS_PER_TOKEN * n_tokens + 64
    while True:
        head = text_head(text, chars)
        enc = tokenizer(head, add_special_tokens=False, return_offsets_mapping=True)
        if len(enc["input_ids"]) > n_tokens:
            return text[: enc["offset_mapping"][n_tokens - 1][1]]
        if len(head) == len(text):
            return text  # the whole text fits
        chars *= 2


def visible_texts(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *, max_length: int, append_eos: bool = False
) -> list[str]:
    """Each of ``texts`` as the encoder receives it: the prefix its truncated token ids cover.

    With a fast tokenizer, the original characters of the kept tokens (so the markup and the case
    survive for the judge's reading); otherwise the kept content ids decoded back.

    Args:
        tokenizer: the encoder's tokenizer (with its markup tokens).
        texts: [N] texts.
        max_length: the token limit the encoder runs with (``data.max_passage_length`` for talents).
        append_eos: the encoder's ``append_eos``: one position of the limit goes to the EOS id.
    Returns:
        [N] visible texts, a prefix of each input (exactly the input when it fits).
    """
    ids = tokenize(tokenizer, texts, max_length=max_length, append_eos=append_eos)
    lead, trail = special_layout(tokenizer)
    out = []
    for text, seq in zip(texts, ids, strict=True):
        content = seq[lead : len(seq) - trail - int(append_eos)]
        if tokenizer.is_fast:
            out.append(_prefix_by_offsets(tokenizer, text, len(content)))
        else:
            out.append(tokenizer.decode(content, clean_up_tokenization_spaces=False))
    return out
