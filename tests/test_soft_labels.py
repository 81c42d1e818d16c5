"""Soft labels: the judge's preference probability as a per-pair ε (loss, labels, both orders, training).

Shared numbers as in test_rankpo_loss: s(q,w) = 0.5, s(q,l) = 0.3, τ = 0.1, β = 2, so βz = 4;
−log σ(4) = 0.0181499, −log σ(−4) = 4.0181499.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from jobmatch.annotate.sampling_orders import merge_orders, swapped
from jobmatch.app.annotate_task import run as annotate_run
from jobmatch.app.train_task import train
from jobmatch.data.judgement import Judgement
from jobmatch.data.readers import read_preferences
from jobmatch.data.records import PreferenceRecord
from jobmatch.errors import UserError
from jobmatch.losses import rankpo_loss, validate_preference_options
from jobmatch.modules.soft_labels import pair_epsilon
from tests.helpers import FAST, FIXTURES, cfg_for, compose_config, split_files

KW = {"beta": 2.0, "temperature": 0.1}


def test_per_pair_epsilon_by_hand() -> None:
    """ε = (0.1, 0, 0.5): 0.9·0.0181499 + 0.1·4.0181499 = 0.4181499; 0.0181499;
    0.5·(0.0181499 + 4.0181499) = 2.0181499."""
    loss = rankpo_loss(torch.full((3,), 0.5), torch.full((3,), 0.3), label_smoothing=torch.tensor([0.1, 0.0, 0.5]),
                       **KW)
    assert loss.tolist() == pytest.approx([0.4181499, 0.0181499, 2.0181499], abs=1e-6)
    scalar = rankpo_loss(torch.tensor([0.5]), torch.tensor([0.3]), label_smoothing=0.1, **KW)
    assert loss[0].item() == pytest.approx(scalar.item())
    with pytest.raises(ValueError, match=r"\[0, 0.5\]"):
        rankpo_loss(torch.tensor([0.5]), torch.tensor([0.3]), label_smoothing=torch.tensor([0.7]), **KW)


def test_soft_labels_need_the_plain_sigmoid_loss() -> None:
    base = {"loss_type": "sigmoid", "beta": 2.0, "temperature": 0.1, "reference": "frozen"}
    validate_preference_options({**base, "soft_labels": "probability"})
    for bad in ({"loss_type": "hinge"}, {"loss_type": "listwise"}, {"label_smoothing": 0.1}):
        with pytest.raises(ValueError, match=r"^soft_labels=probability: (sets ε|applies to the sigmoid)"):
            validate_preference_options({**base, "soft_labels": "probability", **bad})
    with pytest.raises(ValueError, match=r"^soft_labels=maybe: expected one of none, probability, confidence"):
        validate_preference_options({**base, "soft_labels": "maybe"})


def record(confidence: float | None, probability: float | None = None) -> PreferenceRecord:
    extra = {} if probability is None else {"preference_probability": probability}
    return PreferenceRecord(query="q", passage1="a", passage2="b", preferred="A", confidence_score=confidence,
                            extra=extra)


def test_pair_epsilon_from_probability_or_confidence() -> None:
    records = [record(90, 0.75), record(40, 1.0), record(None, 0.5)]
    assert pair_epsilon(records, "probability").tolist() == pytest.approx([0.25, 0.0, 0.5])
    assert pair_epsilon(records, "confidence").tolist() == pytest.approx([0.1, 0.5, 0.0])  # 1 − 0.4 capped at 0.5
    with pytest.raises(UserError, match="judge_both_orders=true"):
        pair_epsilon([record(90)], "probability")


def verdict(preferred: str, confidence: int) -> tuple[Judgement, str, None]:
    return Judgement(preferred=preferred, confidence_score=confidence, response=f"Preferred: {preferred}"), "ok", None


def test_merge_orders_by_hand() -> None:
    """Agreeing: A at 90, then (B, A) shown, B at 70, i.e. A again: p_A = (0.9 + 0.7)/2 = 0.8.
    Disagreeing: A at 60 (0.6), then A at 80 on (B, A), i.e. B: 0.2; p_A = 0.4: B with probability 0.6."""
    (merged, status, _), extra = merge_orders(verdict("A", 90), verdict("B", 70))
    assert merged.preferred == "A" and status == "ok" and extra == pytest.approx(
        {"preference_probability": 0.8, "orders_agree": True})
    (merged, _, _), extra = merge_orders(verdict("A", 60), verdict("A", 80))
    assert merged.preferred == "B" and extra["preference_probability"] == pytest.approx(0.6)
    assert extra["orders_agree"] is False
    (merged, _, _), extra = merge_orders(verdict("A", 50), (None, "failed", "timeout"))  # one order: its own p
    assert merged.preferred == "A" and extra == {"preference_probability": 0.5}
    assert merge_orders((None, "failed", "x"), (None, "failed", "y")) == ((None, "failed", "x"), {})
    assert swapped([("q", "a", "b")]) == [("q", "b", "a")]


@pytest.fixture(scope="module")
def stage1_ckpt(tmp_path_factory: pytest.TempPathFactory) -> str:
    return train(compose_config(FAST, run_dir=tmp_path_factory.mktemp("stage1") / "run"))["checkpoint/best"]


def test_annotate_both_orders_then_train_on_the_probability(tmp_path: Path, stage1_ckpt: str) -> None:
    cfg = cfg_for("annotate", tmp_path, f"ckpt={stage1_ckpt}", *split_files(tmp_path), "annotate.pairs_per_query=5",
                  "annotate.test_pairs_per_query=3", "annotate.top_k=20", "annotate.judge_both_orders=true")
    summary = annotate_run(cfg)
    assert summary["annotate/judge_calls"] == 2 * 52 and summary["annotate/train_judge_calls"] == 80
    assert summary["annotate/orders_agree"] == 1.0  # the offline judge is symmetric by construction
    pairs = read_preferences(Path(cfg.paths.run_dir) / "preferences_train.jsonl")
    # symmetric verdicts: the probability is the stated confidence
    assert all(p.extra["preference_probability"] == pytest.approx(p.confidence_score / 100) for p in pairs)

    run_dir = Path(cfg.paths.run_dir)
    stage2 = compose_config([*FAST, "stage=rankpo", f"stage.init_ckpt={stage1_ckpt}", "stage.soft_labels=probability",
                             f"data.preference_train_file={run_dir / 'preferences_train.jsonl'}",
                             f"data.preference_test_file={run_dir / 'preferences_test.jsonl'}",
                             f"data.test_file={FIXTURES / 'contrastive_tiny.jsonl'}", "trainer.limit_train_batches=2",
                             "eval.k=20", "eval.cutoffs=[1,5,10,20]", "stage.optim.lr=1e-3"],
                            run_dir=tmp_path / "stage2")
    results = train(stage2)
    assert results["trainer/global_step"] == 2 and np.isfinite(results["train/loss"])
    # the per-pair ε (1 − p) reached the loss: the offline judge's confidences are below 100
    assert 0.0 < results["train/soft_label_epsilon"] <= 0.5
    assert 0.0 <= results["test/alignment"] <= 1.0
