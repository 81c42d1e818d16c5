"""Alignment with the judge: hand-picked pairs, ties, bootstrap interval, confidence bins."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jobmatch.retrieval.alignment import alignment, bootstrap_interval, pair_wins

CHOSEN = np.array([0.9, 0.5, 0.3, 0.7, 0.2])
REJECTED = np.array([0.1, 0.5, 0.6, 0.2, 0.4])
CONFIDENCE = np.array([95, 55, 85, 100, 70])


def test_wins_with_ties_by_hand() -> None:
    """Pairs: win, tie, loss, win, loss → 1 + 0.5 + 0 + 1 + 0 = 2.5 of 5 = 0.5."""
    np.testing.assert_array_equal(pair_wins(CHOSEN, REJECTED), [1, 0.5, 0, 1, 0])
    result = alignment(CHOSEN, REJECTED)
    assert result["alignment"] == 0.5
    assert result["n_pairs"] == 5
    assert 0 <= result["alignment_ci_low"] <= 0.5 <= result["alignment_ci_high"] <= 1


def test_confidence_bins_by_hand() -> None:
    """[0,60): 55 → tie 0.5. [60,80): 70 → loss 0. [80,90): 85 → loss 0. [90,101): 95, 100 → wins, 1."""
    result = alignment(CHOSEN, REJECTED, confidence=CONFIDENCE)
    assert result["alignment_conf[0,60)"] == 0.5
    assert result["alignment_conf[60,80)"] == 0.0
    assert result["alignment_conf[80,90)"] == 0.0
    assert result["alignment_conf[90,101)"] == 1.0
    counts = [result[f"n_pairs_conf{b}"] for b in ("[0,60)", "[60,80)", "[80,90)", "[90,101)")]
    assert counts == [1, 1, 1, 2]
    empty = alignment(CHOSEN, REJECTED, confidence=CONFIDENCE, bins=(0, 50, 101))
    assert math.isnan(empty["alignment_conf[0,50)"]) and empty["n_pairs_conf[0,50)"] == 0


def test_bootstrap_interval() -> None:
    """All wins: every resample's mean is 1. Otherwise seeded, and about p ± 1.96·√(p(1-p)/n)."""
    assert bootstrap_interval(np.ones(10)) == (1.0, 1.0)
    wins = (np.arange(400) % 4 == 0).astype(float)  # p = 0.25, n = 400: normal half-width 0.042
    low, high = bootstrap_interval(wins, n_bootstrap=500, seed=1)
    assert (low, high) == bootstrap_interval(wins, n_bootstrap=500, seed=1)
    assert low == pytest.approx(0.25 - 0.042, abs=0.012) and high == pytest.approx(0.25 + 0.042, abs=0.012)


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="1-D of one length"):
        alignment(CHOSEN, REJECTED[:3])
    with pytest.raises(ValueError, match="no pairs"):
        alignment(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="confidence"):
        alignment(CHOSEN, REJECTED, confidence=CONFIDENCE[:2])
