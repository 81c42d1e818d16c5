"""Encode a token batch in length-sorted chunks, optionally recomputing activations (GradCache memory profile).

A large in-batch negative pool needs every embedding of the batch at once, but not every activation:
with ``recompute`` each chunk's forward runs under :func:`torch.utils.checkpoint.checkpoint`, which
keeps only the chunk's inputs and output embeddings and recomputes its activations, one chunk at a
time, during backward. Peak activation memory is then that of one chunk, whatever the batch size,
at the cost of a second forward (the GradCache trade: 2 forwards + 1 backward). The checkpoint
replays the RNG state of the first forward, so dropout masks (and thus gradients) match it exactly.

Chunks hold texts of similar length (sorted by token count) and each is trimmed to its own longest
text, so a batch of mixed lengths spends less compute on padding. Left-padded batches lose leading
columns, which shifts absolute positions by a constant: exact for rotary models (Llama, Qwen, SmolLM),
whose attention depends only on relative positions, and identical to what the same text would get in
a batch of shorter texts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.checkpoint import checkpoint

EncoderFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def token_span(attention_mask: torch.Tensor) -> tuple[int, int]:
    """(first, end) columns of ``attention_mask`` [B, L] holding any token; (0, L) when none does."""
    columns = attention_mask.any(dim=0).nonzero().flatten()  # [L'] columns with at least one token
    if columns.numel() == 0:
        return 0, attention_mask.shape[1]
    return int(columns[0]), int(columns[-1]) + 1


def encode_in_chunks(
    encoder_fn: EncoderFn,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    chunk_size: int,
    recompute: bool = True,
) -> torch.Tensor:
    """Embed texts in chunks of at most ``chunk_size`` texts of similar length, in the original order.

    Args:
        encoder_fn: ``(input_ids [b, l], attention_mask [b, l]) -> [b, D]``, e.g. a ``TextEncoder``.
        input_ids: [N, L] token ids, padded on either side.
        attention_mask: [N, L], 1 for tokens, 0 for padding (one contiguous span of tokens per row).
        chunk_size: most texts per forward.
        recompute: checkpoint each chunk (activation memory of one chunk; a second forward in backward).
            Only applies when gradients are enabled.
    Returns:
        [N, D] embeddings, row i for text i (as ``encoder_fn(input_ids, attention_mask)`` would give).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of texts, got {chunk_size}")
    lengths = attention_mask.sum(dim=1)  # [N]
    order = torch.argsort(lengths, descending=True, stable=True)  # [N]: longest first
    checkpointed = recompute and torch.is_grad_enabled()
    pieces = []
    for rows in order.split(chunk_size):  # [c] original row indices of one chunk
        mask = attention_mask[rows]  # [c, L]
        first, end = token_span(mask)
        ids, mask = input_ids[rows, first:end], mask[:, first:end]  # [c, l]: the chunk's own padding only
        if checkpointed:
            pieces.append(checkpoint(encoder_fn, ids, mask, use_reentrant=False))  # [c, D]
        else:
            pieces.append(encoder_fn(ids, mask))  # [c, D]
    embeddings = torch.cat(pieces)  # [N, D] in sorted order
    return embeddings[torch.argsort(order)]  # [N, D] back in the original order
