"""Typed batches and the collators that pad token ids into them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass
class TokenBatch:
    """Padded token ids of a list of texts: ``input_ids`` and ``attention_mask`` are [B, L]."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]


@dataclass
class ContrastiveBatch:
    """B queries and their passage groups (positive first, then G-1 negatives), flattened.

    ``query``: [B, Lq]; ``passages``: [B·G, Lp].
    """

    query: TokenBatch
    passages: TokenBatch
    group_size: int


@dataclass
class PreferenceBatch:
    """B judged pairs: the JD, the preferred (chosen) and the rejected talent, and the pair indices.

    ``query``: [B, Lq]; ``chosen`` and ``rejected``: [B, Lp] (padded to one length, so that they can
    be encoded in one forward); ``index``: [B] global pair indices (the reference-score lookup).
    """

    query: TokenBatch
    chosen: TokenBatch
    rejected: TokenBatch
    index: torch.Tensor

    def __len__(self) -> int:
        return len(self.query)


def pad_tokens(
    sequences: Sequence[Sequence[int]], *, pad_id: int, side: str = "right", multiple_of: int = 1
) -> TokenBatch:
    """Pad id sequences to the longest one (rounded up to ``multiple_of``), left or right."""
    longest = max(len(s) for s in sequences)
    longest = -(-longest // multiple_of) * multiple_of
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)  # [B, L]
    mask = torch.zeros((len(sequences), longest), dtype=torch.long)  # [B, L]
    for row, seq in enumerate(sequences):
        span = slice(longest - len(seq), longest) if side == "left" else slice(0, len(seq))
        ids[row, span] = torch.tensor(seq, dtype=torch.long)
        mask[row, span] = 1
    return TokenBatch(ids, mask)


class ContrastiveCollator:
    """Collate ``(query_ids, [passage_ids, ...])`` examples into a :class:`ContrastiveBatch`."""

    def __init__(self, pad_id: int, side: str = "right", multiple_of: int = 1) -> None:
        self.pad_id, self.side, self.multiple_of = pad_id, side, multiple_of

    def __call__(self, examples: Sequence[tuple[list[int], list[list[int]]]]) -> ContrastiveBatch:
        groups = [group for _, group in examples]
        group_size = len(groups[0])
        if any(len(g) != group_size for g in groups):
            raise ValueError("all examples of a batch need the same number of passages")
        pad = {"pad_id": self.pad_id, "side": self.side, "multiple_of": self.multiple_of}
        query = pad_tokens([q for q, _ in examples], **pad)
        passages = pad_tokens([p for g in groups for p in g], **pad)
        return ContrastiveBatch(query=query, passages=passages, group_size=group_size)
