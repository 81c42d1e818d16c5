"""RankPO and SFT losses against hand-computed numbers; diagnostics; option validation.

Shared numbers: s(q,w) = 0.5, s(q,l) = 0.3, τ = 0.1, β = 2, so Δ = 0.2 and Δ/τ = 2.
−log σ(x) = log(1 + e^−x).
"""

import math

import pytest
import torch

from jobmatch.errors import OptionError
from jobmatch.losses import preference_rewards, rankpo_loss, sft_loss, validate_preference_options

CHOSEN, REJECTED = torch.tensor([0.5]), torch.tensor([0.3])
REF_CHOSEN, REF_REJECTED = torch.tensor([0.4]), torch.tensor([0.1])
KW = {"beta": 2.0, "temperature": 0.1}


def neg_log_sigmoid(x: float) -> float:
    return math.log1p(math.exp(-x))


def test_sigmoid_without_reference() -> None:
    """z = 0.2/0.1 = 2, βz = 4: L = log(1 + e^−4) = 0.0181499."""
    loss = rankpo_loss(CHOSEN, REJECTED, **KW)
    assert loss.shape == (1,)
    assert loss.item() == pytest.approx(0.0181499279, abs=1e-6)


def test_sigmoid_with_reference() -> None:
    """Δ = 0.2 − (0.4 − 0.1) = −0.1, z = −1, βz = −2: L = log(1 + e^2) = 2.1269280."""
    loss = rankpo_loss(CHOSEN, REJECTED, REF_CHOSEN, REF_REJECTED, **KW)
    assert loss.item() == pytest.approx(2.1269280110, abs=1e-6)


def test_sigmoid_with_margin() -> None:
    """γ/β = 0.5: z = 2 − 0.5 = 1.5, βz = 3: L = log(1 + e^−3) = 0.0485874."""
    loss = rankpo_loss(CHOSEN, REJECTED, gamma_beta_ratio=0.5, **KW)
    assert loss.item() == pytest.approx(0.0485873516, abs=1e-6)


def test_sigmoid_with_label_smoothing() -> None:
    """ε = 0.1, βz = 4: L = 0.9·log(1 + e^−4) + 0.1·log(1 + e^4) = 0.9·0.0181499 + 0.1·4.0181499 = 0.4181499."""
    loss = rankpo_loss(CHOSEN, REJECTED, label_smoothing=0.1, **KW)
    assert loss.item() == pytest.approx(0.4181499279, abs=1e-6)


@pytest.mark.parametrize(
    ("chosen", "rejected", "ref", "margin", "expected"),
    [
        (0.5, 0.3, None, 0.0, 0.0),  # βz = 4: max(0, 1 − 4) = 0
        (0.5, 0.3, (0.4, 0.1), 0.0, 3.0),  # βz = −2: 1 + 2 = 3
        (0.52, 0.5, None, 0.0, 0.6),  # Δ = 0.02, z = 0.2, βz = 0.4: 1 − 0.4 = 0.6
        (0.52, 0.5, None, 0.1, 0.8),  # z = 0.2 − 0.1 = 0.1, βz = 0.2: 1 − 0.2 = 0.8
    ],
)
def test_hinge(chosen: float, rejected: float, ref: tuple[float, float] | None, margin: float,
               expected: float) -> None:
    refs = (torch.tensor([ref[0]]), torch.tensor([ref[1]])) if ref else (None, None)
    loss = rankpo_loss(torch.tensor([chosen]), torch.tensor([rejected]), *refs, gamma_beta_ratio=margin,
                       loss_type="hinge", **KW)
    assert loss.item() == pytest.approx(expected, abs=1e-5)


def test_sft_loss() -> None:
    """CE([0.5, 0.3]/0.1, target 0) = −log(e^5 / (e^5 + e^3)) = log(1 + e^−2) = 0.1269280."""
    assert sft_loss(CHOSEN, REJECTED, temperature=0.1).item() == pytest.approx(0.1269280110, abs=1e-6)


def test_reference_free_sigmoid_with_beta_one_is_sft() -> None:
    """With β = 1, γ = 0 and the same τ: −log σ(Δ/τ) = CE of [s_w, s_l]/τ with target w."""
    gen = torch.Generator().manual_seed(0)
    chosen, rejected = torch.rand(16, generator=gen) * 2 - 1, torch.rand(16, generator=gen) * 2 - 1
    rankpo = rankpo_loss(chosen, rejected, beta=1.0, temperature=0.07)
    torch.testing.assert_close(rankpo, sft_loss(chosen, rejected, temperature=0.07))


@pytest.mark.parametrize("loss_type", ["sigmoid", "hinge"])
def test_gradient_raises_chosen_and_lowers_rejected(loss_type: str) -> None:
    chosen = torch.tensor([0.50, 0.1], requires_grad=True)
    rejected = torch.tensor([0.49, 0.3], requires_grad=True)
    rankpo_loss(chosen, rejected, loss_type=loss_type, **KW).sum().backward()
    assert (chosen.grad < 0).all() and (rejected.grad > 0).all()


def test_rewards_and_accuracy() -> None:
    """Rewards β(s − s_ref): chosen 2·(0.5 − 0.4) = 0.2, rejected 2·(0.3 − 0.1) = 0.4, margin −0.2."""
    rewards = preference_rewards(CHOSEN, REJECTED, REF_CHOSEN, REF_REJECTED, beta=2.0)
    assert rewards["chosen"].item() == pytest.approx(0.2)
    assert rewards["rejected"].item() == pytest.approx(0.4)
    assert rewards["margins"].item() == pytest.approx(-0.2)
    assert rewards["accuracy"].item() == 0.0
    free = preference_rewards(CHOSEN, REJECTED, beta=2.0)  # s_ref = 0: 1.0 vs 0.6
    assert free["chosen"].item() == pytest.approx(1.0) and free["accuracy"].item() == 1.0


def test_loss_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="loss_type='ipo'"):
        rankpo_loss(CHOSEN, REJECTED, loss_type="ipo", **KW)
    with pytest.raises(ValueError, match="both ref_chosen and ref_rejected"):
        rankpo_loss(CHOSEN, REJECTED, REF_CHOSEN, None, **KW)
    with pytest.raises(ValueError, match="label_smoothing"):
        rankpo_loss(CHOSEN, REJECTED, loss_type="hinge", label_smoothing=0.1, **KW)


BASE = {"loss_type": "sigmoid", "beta": 2.0, "temperature": 0.1, "label_smoothing": 0.0, "reference": "frozen",
        "rankpo_weight": 1.0, "sft_weight": 0.0}


@pytest.mark.parametrize(
    ("change", "lora", "message"),
    [
        ({"loss_type": "ipo"}, True, r"^loss_type=ipo: expected one of sigmoid, hinge"),
        ({"loss_type": "hinge", "label_smoothing": 0.1}, True, "; set label_smoothing=0 or loss_type=sigmoid"),
        ({"label_smoothing": 0.6}, True, r"^label_smoothing=0.6: out of range: expected a number in \[0, 0.5\)"),
        ({"beta": 0}, True, r"^beta=0: out of range: expected a number > 0"),
        ({"reference": "copy"}, True, r"^reference=copy: expected one of none, frozen, online; "),
        ({"reference": "online"}, False, r"lora_enabled=false; use reference=frozen"),
        ({"rankpo_weight": 0.0, "sft_weight": 0.0}, True, "not both 0"),
        ({"rankpo_weight": 0.0, "sft_weight": 1.0}, True, r"^reference=frozen: unused .*; set reference=none$"),
    ],
)
def test_option_validation(change: dict, lora: bool, message: str) -> None:
    """The library names its arguments (``beta=0``), never the config keys that set them."""
    with pytest.raises(OptionError, match=message) as error:
        validate_preference_options({**BASE, **change}, lora_enabled=lora)
    assert "stage." not in str(error.value) and "\n" not in str(error.value)
    assert error.value.named(lambda name: f"stage.{name}").startswith(f"stage.{error.value.arguments()[0]}=")


def test_valid_options_pass() -> None:
    validate_preference_options(BASE)
    validate_preference_options({**BASE, "reference": "online"})
    validate_preference_options({**BASE, "loss_type": "hinge", "reference": "none"}, lora_enabled=False)
    validate_preference_options({**BASE, "reference": "none", "rankpo_weight": 0.0, "sft_weight": 1.0})
