"""Listwise RankPO: a Plackett-Luce loss over each JD's judged talents (stage 2, docs/design.md §1).

A JD's judged pairs form a partial ranking of its talents. Each talent i of a JD gets the judge's
net wins c_i (pairs it won minus pairs it lost, a Copeland score) and the utility

    u_i = β·(s(q,i) − s_ref(q,i))/τ          s_ref = 0 without a reference (the SimRankPO form)

Ordered by c, the Plackett-Luce negative log-likelihood with the margin γ = β·(γ/β) is the sum over
every talent i that outranks at least one other of

    ℓ_i = −log( exp(u_i − γ) / (exp(u_i − γ) + Σ_{j: c_j < c_i} exp(u_j)) )

Talents with equal net wins are not ordered against each other (neither is in the other's
denominator). For one pair (w beats l) the single term is −log σ(u_w − u_l − γ) = −log σ(βz), the
pairwise sigmoid RankPO loss with ε = 0; for a strict order it is the Plackett-Luce likelihood.
"""

from __future__ import annotations

import torch

from jobmatch.losses.rankpo import check_reference
from jobmatch.losses.registry import register_loss


def _first_rows(inverse: torch.Tensor, n: int) -> torch.Tensor:
    """[n] the first position in ``inverse`` [M] of every value 0..n-1."""
    positions = torch.arange(len(inverse), device=inverse.device)
    first = torch.full((n,), len(inverse), dtype=torch.long, device=inverse.device)
    return first.scatter_reduce(0, inverse, positions, reduce="amin")


@register_loss("listwise", kind="listwise", rules_out=("label_smoothing", "soft_labels"))
def listwise_rankpo_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    ref_chosen: torch.Tensor | None = None,
    ref_rejected: torch.Tensor | None = None,
    *,
    query_index: torch.Tensor,
    chosen_index: torch.Tensor,
    rejected_index: torch.Tensor,
    beta: float,
    temperature: float,
    gamma_beta_ratio: float = 0.0,
) -> torch.Tensor:
    """Per-term listwise RankPO losses of a batch of judged pairs (formula in the module docstring).

    Args:
        chosen, rejected: [B] policy similarities s(q, w), s(q, l) of every pair.
        ref_chosen, ref_rejected: [B] reference similarities, or both None (reference-free).
        query_index: [B] the JD of every pair (pairs with the same value share one list).
        chosen_index, rejected_index: [B] the talent of the preferred and of the rejected candidate
            (the same value names the same talent: its similarities must agree across pairs).
        beta, temperature, gamma_beta_ratio: β > 0, τ > 0 and γ/β as in :func:`rankpo_loss`.
    Returns:
        [T] float32 losses, one per talent that outranks another talent of its JD (T ≥ 1 when B ≥ 1
        and some pair's talents differ in net wins; a batch of pure ties gives T = 0).
    """
    if beta <= 0 or temperature <= 0:
        raise ValueError(f"beta and temperature must be > 0, got beta={beta}, temperature={temperature}")
    batch = len(chosen)
    policy = torch.cat([chosen.float(), rejected.float()])  # [2B]
    if check_reference(ref_chosen, ref_rejected):
        policy = policy - torch.cat([ref_chosen.float(), ref_rejected.float()])  # type: ignore[union-attr]
    utility = beta * policy / temperature  # [2B] per (pair, role)
    queries = torch.cat([query_index, query_index])  # [2B]
    talents = torch.cat([chosen_index, rejected_index])  # [2B]
    keys = torch.stack([queries, talents], dim=1)  # [2B, 2] one candidate = one (JD, talent)
    candidates, inverse = torch.unique(keys, dim=0, return_inverse=True)  # [C, 2], [2B]
    n = len(candidates)
    u = utility[_first_rows(inverse, n)]  # [C] one utility per candidate
    sign = torch.cat([torch.ones(batch), -torch.ones(batch)]).to(inverse.device)  # +1 won, −1 lost
    wins = torch.zeros(n, device=inverse.device).index_add(0, inverse, sign)  # [C] net wins c
    group = candidates[:, 0]  # [C] the JD of every candidate
    below = (group[:, None] == group[None, :]) & (wins[None, :] < wins[:, None])  # [C, C]: j below i
    margin = beta * gamma_beta_ratio
    rest = torch.where(below, u[None, :].expand(n, n), torch.full_like(below, float("-inf"), dtype=u.dtype))
    logits = torch.cat([(u - margin)[:, None], rest], dim=1)  # [C, 1 + C]: i itself, then the talents below
    terms = torch.logsumexp(logits, dim=1) - (u - margin)  # [C]
    return terms[below.any(dim=1)]  # [T]
