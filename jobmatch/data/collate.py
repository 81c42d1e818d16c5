"""Typed batches and the collators that pad token ids into them.

Batches hold each distinct text once (identity: its token ids after truncation) plus index tensors
that map every slot of the batch to its row, so that a training step encodes each text once and
gathers the embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class TokenBatch:
    """Padded token ids of a list of texts: ``input_ids`` and ``attention_mask`` are [B, L]."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def rows(self, index: torch.Tensor) -> TokenBatch:
        """The texts at ``index`` [N] as a new [N, L] batch."""
        return TokenBatch(self.input_ids[index], self.attention_mask[index])


@dataclass
class ContrastiveBatch:
    """B queries and their passage groups (positive first, then G-1 negatives), flattened to B·G slots.

    ``query``: [B, Lq]; ``passages``: [U, Lp], the distinct passages of the batch (U ≤ B·G);
    ``passage_index``: [B·G] the row of ``passages`` in each slot (None: slot i is row i).
    ``passage_keys``: [U] int64 identity keys of the passages; ``positive_keys``: [B, K] the keys of
    every known positive of each query (padded by repeating one of them); None: no masking.
    """

    query: TokenBatch
    passages: TokenBatch
    group_size: int
    passage_index: torch.Tensor | None = None
    passage_keys: torch.Tensor | None = None
    positive_keys: torch.Tensor | None = None

    @property
    def slots(self) -> torch.Tensor:
        """[B·G] row of ``passages`` in every slot."""
        if self.passage_index is None:
            return torch.arange(len(self.passages), device=self.passages.input_ids.device)
        return self.passage_index

    @property
    def texts_encoded(self) -> int:
        """Texts one forward of this batch encodes: the queries and the distinct passages."""
        return len(self.query) + len(self.passages)


@dataclass
class PreferenceBatch:
    """B judged pairs: the JD, the preferred (chosen) and the rejected talent, and the pair indices.

    ``queries``: [Uq, Lq] distinct JDs; ``talents``: [Ut, Lp] distinct talents (chosen and rejected
    share one padding, so that they are encoded in one forward); ``query_index``, ``chosen_index``,
    ``rejected_index``: [B] rows of each pair's texts; ``index``: [B] global pair indices (the
    reference-score lookup).
    """

    queries: TokenBatch
    talents: TokenBatch
    query_index: torch.Tensor
    chosen_index: torch.Tensor
    rejected_index: torch.Tensor
    index: torch.Tensor

    def __len__(self) -> int:
        return len(self.index)

    @property
    def query(self) -> TokenBatch:
        """[B, Lq] the JD of every pair (one row per pair)."""
        return self.queries.rows(self.query_index)

    @property
    def chosen(self) -> TokenBatch:
        """[B, Lp] the chosen talent of every pair."""
        return self.talents.rows(self.chosen_index)

    @property
    def rejected(self) -> TokenBatch:
        """[B, Lp] the rejected talent of every pair."""
        return self.talents.rows(self.rejected_index)

    @property
    def texts_encoded(self) -> int:
        """Texts one scoring pass of this batch encodes: the distinct JDs and talents."""
        return len(self.queries) + len(self.talents)


def pad_tokens(
    sequences: Sequence[Sequence[int]], *, pad_id: int, side: str = "right", multiple_of: int = 1
) -> TokenBatch:
    """Pad id sequences (lists or int32 arrays, e.g. rows of a memory-mapped token store) to the longest one
    (rounded up to ``multiple_of``), left or right, into int64 tensors."""
    longest = max(len(s) for s in sequences)
    longest = -(-longest // multiple_of) * multiple_of
    ids = np.full((len(sequences), longest), pad_id, dtype=np.int64)  # [B, L]
    mask = np.zeros((len(sequences), longest), dtype=np.int64)  # [B, L]
    for row, seq in enumerate(sequences):
        span = slice(longest - len(seq), longest) if side == "left" else slice(0, len(seq))
        ids[row, span] = seq
        mask[row, span] = 1
    return TokenBatch(torch.from_numpy(ids), torch.from_numpy(mask))


def text_key(ids: Sequence[int] | np.ndarray) -> int:
    """Identity of a tokenised text: a hash of its token ids (ints hash alike in every process; an int32
    array hashes as the list of its ints)."""
    return hash(tuple(ids.tolist() if isinstance(ids, np.ndarray) else ids))


def distinct(sequences: Sequence[Sequence[int]]) -> tuple[list[Sequence[int]], list[int]]:
    """(the distinct sequences in order of first appearance, the row of each input)."""
    rows: dict[int, int] = {}
    kept: list[Sequence[int]] = []
    index = []
    for seq in sequences:
        key = text_key(seq)
        if key not in rows:
            rows[key] = len(kept)
            kept.append(seq)
        index.append(rows[key])
    return kept, index


ContrastiveExample = tuple[list[int], list[list[int]], list[list[int]]]


class ContrastiveCollator:
    """Collate ``(query_ids, [passage_ids, ...], [known positive ids, ...])`` examples into a
    :class:`ContrastiveBatch` (the third item may be absent: the sampled positive is then the only one)."""

    def __init__(self, pad_id: int, side: str = "right", multiple_of: int = 1) -> None:
        self.pad_id, self.side, self.multiple_of = pad_id, side, multiple_of

    def __call__(self, examples: Sequence[ContrastiveExample | tuple[list[int], list[list[int]]]]) -> ContrastiveBatch:
        groups = [example[1] for example in examples]
        group_size = len(groups[0])
        if any(len(g) != group_size for g in groups):
            raise ValueError("all examples of a batch need the same number of passages")
        pad = {"pad_id": self.pad_id, "side": self.side, "multiple_of": self.multiple_of}
        query = pad_tokens([example[0] for example in examples], **pad)
        texts, index = distinct([p for g in groups for p in g])
        return ContrastiveBatch(
            query=query,
            passages=pad_tokens(texts, **pad),
            group_size=group_size,
            passage_index=torch.tensor(index, dtype=torch.long),
            passage_keys=torch.tensor([text_key(t) for t in texts], dtype=torch.long),
            positive_keys=positive_keys(examples),
        )


def positive_keys(examples: Sequence[Sequence]) -> torch.Tensor:
    """[B, K] keys of each query's known positives: its sampled positive first, then its other
    positives; a JD that occurs twice in the batch gets the union of both examples' positives."""
    by_query: dict[int, list[int]] = {}
    for example in examples:
        known = [example[1][0], *(example[2] if len(example) > 2 else [])]
        keys = by_query.setdefault(text_key(example[0]), [])
        keys += [k for k in map(text_key, known) if k not in keys]
    rows = [[text_key(example[1][0])] + by_query[text_key(example[0])] for example in examples]
    width = max(len(r) for r in rows)
    return torch.tensor([r + [r[0]] * (width - len(r)) for r in rows], dtype=torch.long)  # [B, K]
