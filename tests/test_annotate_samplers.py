"""Active annotation: the pair samplers beyond uniform, their determinism, the annotate task and the judge cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jobmatch.annotate.sampling import SAMPLERS, sample_rank_pairs
from jobmatch.app.annotate_task import run
from jobmatch.app.train_task import train
from jobmatch.data.readers import read_contrastive, read_preferences
from jobmatch.report.pipeline_summary import judge_cost_line
from tests.helpers import FAST, cfg_for, compose_config, split_files

K = 30
SCORES = np.linspace(0.9, 0.3, K)  # descending, evenly spaced: rank gap = score gap
RELEVANT = [r in (5, 12, 20) for r in range(K)]


def pairs_of(strategy: str, n: int = 12, seed: int = 0) -> list[tuple[int, int]]:
    return sample_rank_pairs(K, n, strategy=strategy, rng=np.random.default_rng(seed), scores=SCORES,
                             relevant=RELEVANT)


@pytest.mark.parametrize("strategy", SAMPLERS)
def test_every_sampler_is_distinct_in_range_and_deterministic(strategy: str) -> None:
    pairs = pairs_of(strategy)
    assert len(pairs) == 12 and len({tuple(sorted(p)) for p in pairs}) == 12
    assert all(0 <= i < K and 0 <= j < K and i != j for i, j in pairs)
    assert pairs_of(strategy) == pairs and pairs_of(strategy, seed=1) != pairs


def test_uncertainty_takes_the_smallest_score_gaps() -> None:
    """Evenly spaced scores: the 24 pairs of smallest gap are the 29 neighbour pairs' first 24 (gap 1)."""
    gaps = [abs(i - j) for i, j in pairs_of("uncertainty")]
    assert set(gaps) == {1}
    assert np.mean([abs(i - j) for i, j in pairs_of("uniform")]) > 3


def test_disagreement_puts_a_non_positive_above_a_positive_first() -> None:
    pairs = [tuple(sorted(p)) for p in pairs_of("disagreement")]
    assert all(not RELEVANT[i] and RELEVANT[j] for i, j in pairs)  # 5 + 11 + 17 such pairs: the budget fits
    # fewer disagreeing pairs than the budget: all of them, then others
    few = [r == 1 for r in range(K)]
    pairs = sample_rank_pairs(K, 5, strategy="disagreement", rng=np.random.default_rng(0), relevant=few)
    assert {tuple(sorted(p)) for p in pairs} >= {(0, 1)} and len(pairs) == 5


def test_rank_strata_cover_every_stratum_pair() -> None:
    strata = [(min(i, j) * 3 // K, max(i, j) * 3 // K) for i, j in pairs_of("rank_strata")]
    assert set(strata) == {(a, b) for a in range(3) for b in range(a, 3)}
    assert max(strata.count(c) for c in set(strata)) == 2  # 12 pairs dealt evenly over 6 combinations


def test_active_samplers_need_their_inputs() -> None:
    with pytest.raises(ValueError, match="scores"):
        sample_rank_pairs(K, 3, strategy="uncertainty", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="relevance"):
        sample_rank_pairs(K, 3, strategy="disagreement", rng=np.random.default_rng(0))


def test_judge_cost_line() -> None:
    results = {"annotate/train_judge_calls": 300, "annotate/judge_calls": 900, "annotate/train_judge_chars": 4000,
               "judge/prompt_tokens": 90000, "delta/alignment": 0.05}
    line = judge_cost_line(results)
    assert line is not None and "300 calls" in line and "~30000 prompt tokens" in line
    assert "per point of alignment gain: 60.0 calls, 6000 tokens" in line
    assert judge_cost_line({}) is None


@pytest.fixture(scope="module")
def stage1_ckpt(tmp_path_factory: pytest.TempPathFactory) -> str:
    return train(compose_config(FAST, run_dir=tmp_path_factory.mktemp("stage1") / "run"))["checkpoint/best"]


@pytest.mark.parametrize("strategy", ["uncertainty", "disagreement", "rank_strata"])
def test_annotate_task_with_an_active_sampler(tmp_path: Path, stage1_ckpt: str, strategy: str) -> None:
    """Training pairs by the strategy; held-out pairs stay uniform (the same as under the uniform sampler)."""
    common = [f"ckpt={stage1_ckpt}", *split_files(tmp_path), "annotate.pairs_per_query=5",
              "annotate.test_pairs_per_query=3", "annotate.top_k=20"]
    summary = run(cfg_for("annotate", tmp_path / strategy, *common, f"annotate.sampler={strategy}"))
    uniform = run(cfg_for("annotate", tmp_path / "uniform", *common))
    assert summary["annotate/train_judge_calls"] == 40 and summary["annotate/judge_calls"] == 52
    assert summary["annotate/train_judge_chars"] > 0
    test = [read_preferences(tmp_path / name / "run" / "preferences_test.jsonl") for name in (strategy, "uniform")]
    assert test[0] == test[1]
    train_pairs = [read_preferences(tmp_path / name / "run" / "preferences_train.jsonl")
                   for name in (strategy, "uniform")]
    assert train_pairs[0] != train_pairs[1] and uniform["annotate/train_judge_calls"] == 40
    if strategy == "disagreement":  # some pair ranks a non-positive of its JD above a positive
        positives = {r.query: set(r.positives) for r in read_contrastive(tmp_path / "train.jsonl")}
        ordered = [(p.passage1, p.passage2) if p.passage_rank1 < p.passage_rank2 else (p.passage2, p.passage1)
                   for p in train_pairs[0]]
        assert any(a not in positives[p.query] and b in positives[p.query]
                   for p, (a, b) in zip(train_pairs[0], ordered, strict=True))
