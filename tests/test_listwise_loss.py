"""Listwise RankPO (Plackett-Luce over a JD's judged talents) against hand-computed numbers.

Shared numbers: β = 2, τ = 0.1, so a talent's utility is u = β·s/τ = 20·s without a reference.
−log(e^a / Σ e^x) = log(Σ e^(x − a)).
"""

import math

import pytest
import torch

from jobmatch.losses import listwise_rankpo_loss, rankpo_loss

KW = {"beta": 2.0, "temperature": 0.1}


def pairs(*rows: tuple[int, int, int]) -> dict[str, torch.Tensor]:
    """(JD, chosen talent, rejected talent) rows as the loss's index tensors."""
    q, w, lo = zip(*rows, strict=True)
    return {"query_index": torch.tensor(q), "chosen_index": torch.tensor(w), "rejected_index": torch.tensor(lo)}


def test_strict_order_is_plackett_luce() -> None:
    """Talents a, b, c (0, 1, 2) of one JD; pairs a>b, b>c, a>c: net wins +2, 0, −2, order a > b > c.
    s = 0.5, 0.45, 0.4: u = 10, 9, 8. Terms: a: log(1 + e^−1 + e^−2) = 0.4076060, b: log(1 + e^−1) = 0.3132617."""
    s = {0: 0.5, 1: 0.45, 2: 0.4}
    rows = [(0, 0, 1), (0, 1, 2), (0, 0, 2)]
    chosen, rejected = torch.tensor([s[r[1]] for r in rows]), torch.tensor([s[r[2]] for r in rows])
    terms = listwise_rankpo_loss(chosen, rejected, **pairs(*rows), **KW)
    assert sorted(terms.tolist()) == pytest.approx([0.3132617, 0.4076060], abs=1e-6)
    assert terms.mean().item() == pytest.approx(0.3604338, abs=1e-6)


def test_margin_enters_the_winner_utility() -> None:
    """γ/β = 0.5, γ = 1: a's term log(1 + e^(9 − 9) + e^(8 − 9)) = log(2 + e^−1) = 0.8619948,
    b's log(1 + e^(8 − 8)) = log 2 = 0.6931472."""
    rows = [(0, 0, 1), (0, 1, 2), (0, 0, 2)]
    s = {0: 0.5, 1: 0.45, 2: 0.4}
    chosen, rejected = torch.tensor([s[r[1]] for r in rows]), torch.tensor([s[r[2]] for r in rows])
    terms = listwise_rankpo_loss(chosen, rejected, **pairs(*rows), gamma_beta_ratio=0.5, **KW)
    assert sorted(terms.tolist()) == pytest.approx([math.log(2), 0.8619948], abs=1e-6)


def test_ties_are_not_ordered_and_jds_do_not_mix() -> None:
    """JD 0: a>b, c>d (a, c net +1; b, d −1), s = 0.5, 0.4, 0.45, 0.5: u = 10, 8, 9, 10.
    a: log(1 + e^(8−10) + e^(10−10)) = log(2 + e^−2) = 0.7586237; c: log(1 + e^−1 + e^1) = 1.4076060.
    JD 1 (talents 4 > 5, s = 0.3, 0.3): one term log 2, whatever JD 0's talents score."""
    rows = [(0, 0, 1), (0, 2, 3), (1, 4, 5)]
    s = {0: 0.5, 1: 0.4, 2: 0.45, 3: 0.5, 4: 0.3, 5: 0.3}
    chosen, rejected = torch.tensor([s[r[1]] for r in rows]), torch.tensor([s[r[2]] for r in rows])
    terms = listwise_rankpo_loss(chosen, rejected, **pairs(*rows), **KW)
    assert sorted(terms.tolist()) == pytest.approx([math.log(2), 0.7586237, 1.4076060], abs=1e-6)


def test_one_pair_equals_pairwise_sigmoid_rankpo() -> None:
    """One pair with reference and margin: Δ = 0.2 − (0.4 − 0.1) = −0.1, z = −1 − 0.25, βz = −2.5:
    log(1 + e^2.5) = 2.5788897, the pairwise sigmoid loss."""
    args = (torch.tensor([0.5]), torch.tensor([0.3]), torch.tensor([0.4]), torch.tensor([0.1]))
    listwise = listwise_rankpo_loss(*args, **pairs((0, 0, 1)), gamma_beta_ratio=0.25, **KW)
    pairwise = rankpo_loss(*args, gamma_beta_ratio=0.25, **KW)
    assert listwise.item() == pytest.approx(2.5788897, abs=1e-6)
    assert listwise.item() == pytest.approx(pairwise.item(), abs=1e-6)


def test_gradient_raises_winners_and_lowers_losers() -> None:
    rows = [(0, 0, 1), (0, 1, 2), (0, 0, 2)]
    chosen = torch.tensor([0.5, 0.45, 0.5], requires_grad=True)
    rejected = torch.tensor([0.45, 0.4, 0.4], requires_grad=True)
    listwise_rankpo_loss(chosen, rejected, **pairs(*rows), **KW).sum().backward()
    assert chosen.grad[0] < 0 and rejected.grad[1] > 0  # descent raises a, lowers c


def test_pure_ties_give_no_terms() -> None:
    """a>b and b>a: both net 0, nothing to order."""
    terms = listwise_rankpo_loss(torch.tensor([0.5, 0.4]), torch.tensor([0.4, 0.5]), **pairs((0, 0, 1), (0, 1, 0)),
                                 **KW)
    assert terms.shape == (0,)


def test_pairwise_loss_refuses_listwise() -> None:
    with pytest.raises(ValueError, match="listwise_rankpo_loss"):
        rankpo_loss(torch.tensor([0.5]), torch.tensor([0.3]), loss_type="listwise", **KW)
