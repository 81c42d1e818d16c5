"""InfoNCE over query/passage similarities (stage 1, docs/design.md §1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce_loss(
    query: torch.Tensor,
    passages: torch.Tensor,
    *,
    temperature: float,
    in_batch_negatives: bool = True,
    group_size: int | None = None,
    query_offset: int = 0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean InfoNCE loss  -log( exp(s(q,p+)/τ) / Σ_j exp(s(q,p_j)/τ) ).

    ``passages`` holds one group of G passages per query, positive first:
    ``[p+_0, n_0_1, ..., n_0_{G-1}, p+_1, ...]``. With in-batch negatives every passage of every
    group is a candidate for every query; without, only the query's own group.
    Embeddings are expected L2-normalised, so that the dot product is the cosine similarity.

    Args:
        query: [B, D] query embeddings.
        passages: [M·G, D] passage groups with M ≥ B (M > B when gathered across devices).
        temperature: τ > 0 (reference: 0.02).
        in_batch_negatives: score every query against every passage (True) or its group only.
        group_size: G; defaults to M·G / B, right whenever ``passages`` holds exactly the B groups.
        query_offset: index of the group of ``query[0]`` within ``passages`` (the first local group
            after an all-gather: rank × local batch size).
        mask: bool, True for candidates left out of a query's denominator (in-batch false negatives:
            copies of its positives); [B, M·G] with in-batch negatives, [B, G] without. A query's own
            positive is never left out.
    Returns:
        Scalar mean loss over the B queries.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    batch, n_passages = query.shape[0], passages.shape[0]
    group = group_size or n_passages // batch
    if group < 1 or n_passages % group or query_offset + batch > n_passages // group:
        raise ValueError(
            f"passages [{n_passages}] do not hold groups of {group} for {batch} queries at offset {query_offset}"
        )
    query, passages = query.float(), passages.float()
    if in_batch_negatives:
        scores = query @ passages.T / temperature  # [B, M·G]
        target = (torch.arange(batch, device=query.device) + query_offset) * group  # [B]
    else:
        own = passages.view(-1, group, passages.shape[-1])[query_offset : query_offset + batch]  # [B, G, D]
        scores = torch.einsum("bd,bgd->bg", query, own) / temperature  # [B, G]
        target = torch.zeros(batch, dtype=torch.long, device=query.device)  # the positive comes first
    if mask is not None:
        if mask.shape != scores.shape:
            raise ValueError(f"mask {list(mask.shape)} does not match the scores {list(scores.shape)}")
        rows = torch.arange(batch, device=query.device)
        keep = torch.ones_like(mask, dtype=torch.bool)
        keep[rows, target] = False  # never mask the target
        scores = scores.masked_fill(mask.bool() & keep, float("-inf"))
    return F.cross_entropy(scores, target)
