"""InfoNCE: hand-computed values, group-only vs in-batch, and the cross-device offset."""

import math

import pytest
import torch
import torch.nn.functional as F

from jobmatch.losses import info_nce_loss


def test_hand_computed_single_query() -> None:
    """q=(1,0); passages p+=(1,0), n=(0,1); τ=0.5.

    s = [1, 0] → logits [2, 0] → loss = -log(e²/(e²+1)) = log(1+e⁻²) ≈ 0.126928.
    """
    q = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = info_nce_loss(q, p, temperature=0.5)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-2)), abs=1e-6)


def test_in_batch_adds_other_groups() -> None:
    """Two queries, groups of 2. Query 0: own group logits [1,0]/τ; in-batch adds query 1's group.

    q0=(1,0), q1=(0,1); groups: [(1,0),(0,1)] and [(0,1),(1,0)]; τ=1.
    group-only: each query  -log(e/(e+1)) = log(1+e⁻¹) ≈ 0.313262.
    in-batch:   q0 sees [1,0,0,1] → -log(e/(2e+2)) = log(2+2e⁻¹) ≈ 1.006409 (same for q1).
    """
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    own = info_nce_loss(q, p, temperature=1.0, in_batch_negatives=False)
    both = info_nce_loss(q, p, temperature=1.0, in_batch_negatives=True)
    assert own.item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)
    assert both.item() == pytest.approx(math.log(2 + 2 * math.exp(-1)), abs=1e-6)


def test_matches_cross_entropy_reference() -> None:
    torch.manual_seed(0)
    q = F.normalize(torch.randn(3, 8), dim=-1)
    p = F.normalize(torch.randn(3 * 4, 8), dim=-1)
    expected = F.cross_entropy(q @ p.T / 0.02, torch.tensor([0, 4, 8]))
    assert info_nce_loss(q, p, temperature=0.02).item() == pytest.approx(expected.item(), rel=1e-6)


def test_offset_equals_slice_of_global_loss() -> None:
    """Per-device losses with offsets average to the loss of the concatenated batch."""
    torch.manual_seed(1)
    q = F.normalize(torch.randn(4, 8), dim=-1)
    p = F.normalize(torch.randn(4 * 3, 8), dim=-1)
    full = info_nce_loss(q, p, temperature=0.1)
    halves = [
        info_nce_loss(q[2 * r : 2 * r + 2], p, temperature=0.1, group_size=3, query_offset=2 * r) for r in (0, 1)
    ]
    assert (sum(halves) / 2).item() == pytest.approx(full.item(), rel=1e-6)


def test_rejects_bad_shapes_and_temperature() -> None:
    q = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="temperature"):
        info_nce_loss(q, torch.zeros(4, 4), temperature=0.0)
    with pytest.raises(ValueError, match="groups"):
        info_nce_loss(q, torch.zeros(5, 4), temperature=1.0, group_size=2)
