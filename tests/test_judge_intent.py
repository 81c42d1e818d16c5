"""The offline judge's noise ceiling and intent: ``alignment_ceiling`` and ``alignment_intent``."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

import jobmatch.retrieval.preference_eval as preference_eval
from jobmatch.data.records import PreferenceRecord
from jobmatch.data.synthetic import SyntheticConfig, World, build_world
from jobmatch.data.synthetic.judge import OfflineJudge
from jobmatch.retrieval.alignment import intent_wins, judge_ceiling_and_intent
from jobmatch.retrieval.encoder_eval import EncodeSettings


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(SyntheticConfig(n_talents=300, n_jds=20))


def judged(world: World, noise: float, n: int = 300) -> list[PreferenceRecord]:
    """``n`` pairs of random talents for random JDs, judged by the offline judge with ``noise``."""
    judge, rng = OfflineJudge(seed=0, noise=noise), random.Random(0)
    records = []
    for _ in range(n):
        jd = world.jds[rng.randrange(len(world.jds))]
        a, b = rng.sample(world.talents, 2)
        verdict = judge.judge(jd.text, a.text, b.text)
        records.append(PreferenceRecord(query=jd.text, passage1=a.text, passage2=b.text, preferred=verdict.preferred,
                                        confidence_score=verdict.confidence_score, query_id=jd.id, model=judge.name))
    return records


def ceiling(records: list[PreferenceRecord]) -> tuple[float, int]:
    """The ceiling over the pairs whose noiseless scores differ (a noiseless tie has no right answer: 0.5)."""
    totals = preference_eval.offline_judge_totals(records)
    assert totals is not None
    margin = totals[:, 0] - totals[:, 1]  # [P] chosen − rejected, noiseless
    kept = margin != 0
    return judge_ceiling_and_intent(np.zeros(int(kept.sum())), margin[kept])["alignment_ceiling"], int(kept.sum())


def test_ceiling_is_one_without_noise_and_falls_as_noise_rises(world: World) -> None:
    values = [ceiling(judged(world, noise)) for noise in (0.0, 0.3, 1.0, 3.0)]
    assert values[0] == (1.0, values[0][1]) and values[0][1] > 200
    ceilings = [c for c, _ in values]
    assert ceilings == sorted(ceilings, reverse=True) and ceilings[-1] < ceilings[1] < 1.0
    assert ceilings[-1] > 0.5  # even heavy noise leaves the verdicts correlated with the intent


def test_intent_wins_by_hand() -> None:
    wins = intent_wins(np.array([1.0, -1.0, 0.0, 2.0, 2.0]), np.array([0.5, 0.5, 0.5, 0.0, -1.0]))
    assert wins.tolist() == [1.0, 0.0, 0.5, 0.5, 0.0]
    # a verdict against the noiseless scores: the ceiling counts it wrong; intent follows the scores only
    out = judge_ceiling_and_intent(np.array([1.0, 1.0]), np.array([0.3, -0.2]))
    assert out == {"alignment_ceiling": 0.5, "alignment_intent": 0.5}


@pytest.mark.parametrize(("model", "present"), [("offline-judge(seed=0,noise=0.3)", True), ("deepseek-chat", False)])
def test_intent_keys_only_for_the_offline_judge(world: World, monkeypatch, model: str, present: bool) -> None:
    records = [dataclasses.replace(r, model=model) for r in judged(world, 0.3, n=40)]
    monkeypatch.setattr(preference_eval, "pair_similarities",
                        lambda encoder, recs, settings, encode: np.random.default_rng(0).normal(size=(len(recs), 2)))
    totals = preference_eval.offline_judge_totals(records)
    metrics, per_query = preference_eval.pair_alignment(None, records, EncodeSettings(), judge_totals=totals)
    keys = {"alignment_ceiling", "alignment_intent"}
    assert (keys <= metrics.keys()) is present and (not keys & metrics.keys()) is not present
    assert ("alignment_intent" in per_query) is present
    assert sum(per_query["n_pairs"].values()) == 40 and set(per_query["alignment"]) == {r.query_id for r in records}
    assert "delta/alignment_ceiling" not in preference_eval.with_deltas(metrics, metrics)


def test_pipeline_table_shows_ceiling_and_intent_when_known() -> None:
    from jobmatch.report.pipeline_summary import pipeline_table

    base = {"test/ndcg@20": 0.5, "test/alignment": 0.6, "stage1/alignment": 0.55, "delta/alignment": 0.05}
    with_judge = {**base, "test/alignment_ceiling": 0.8, "test/alignment_intent": 0.7,
                  "stage1/alignment_intent": 0.65, "delta/alignment_intent": 0.05}
    row = next(line for line in pipeline_table(with_judge, "rankpo").splitlines() if line.startswith("| rankpo |"))
    assert row.endswith("| 0.6000 | 0.8000 | — | 0.7000 | — |")
    row = next(line for line in pipeline_table(base, "rankpo").splitlines() if line.startswith("| rankpo |"))
    assert row.endswith("| 0.6000 | — | — | — | — |")


def test_ood_metrics_get_their_own_keys() -> None:
    keys = preference_eval.ood_deltas({"ndcg@20": 0.5}, {"ndcg@20": 0.4})
    assert keys.keys() == {"test_ood/ndcg@20", "stage1/test_ood/ndcg@20", "delta/test_ood/ndcg@20"}
    assert keys["delta/test_ood/ndcg@20"] == pytest.approx(0.1)
