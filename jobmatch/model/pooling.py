"""Pooling of token states into one vector per text."""

from __future__ import annotations

from typing import Literal

import torch

Pooling = Literal["cls", "mean", "last_token"]
POOLINGS: tuple[str, ...] = ("cls", "mean", "last_token")


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the last non-padding token of each row, for left or right padding.

    Args:
        attention_mask: [B, L] with 1 for tokens, 0 for padding.
    Returns:
        [B] long tensor of positions.
    """
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)  # [L]
    return (attention_mask.long() * positions).argmax(dim=1)  # [B]: highest position with a token


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool token states.

    Args:
        hidden: [B, L, H] last hidden states.
        attention_mask: [B, L].
        mode: ``cls`` (first token), ``mean`` (mean over tokens) or ``last_token``.
    Returns:
        [B, H].
    """
    if mode == "cls":
        return hidden[:, 0]
    if mode == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # [B, L, 1]
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    if mode == "last_token":
        index = last_token_index(attention_mask)  # [B]
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), index]
    raise ValueError(f"unknown pooling '{mode}'; choose one of {POOLINGS}")
