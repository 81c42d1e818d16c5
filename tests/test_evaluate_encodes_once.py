"""Evaluation encodes each corpus once per model: the test and out-of-distribution splits (and any other split
ranking the same talents) reuse its embeddings, in ``evaluate`` and at the end of a stage-2 run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import jobmatch.retrieval.encoder_eval as encoder_eval
from jobmatch.app.builders import container
from jobmatch.app.evaluate_task import evaluate
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.model import TextEncoder
from jobmatch.retrieval.encoder_eval import EncodeSettings, ModelEncodings, evaluate_encoder
from jobmatch.retrieval.preference_eval import evaluate_preference_run
from tests.helpers import FIXTURES, cfg_for, compose_config

pytestmark = pytest.mark.usefixtures("one_thread")
FIXTURE = str(FIXTURES / "contrastive_tiny.jsonl")
SETTINGS = EncodeSettings(max_query_length=16, max_passage_length=16, batch_size=8, progress=False)


@pytest.fixture
def corpus_encodings(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts the corpus encodings evaluation runs, per encoder object."""
    calls: Counter = Counter()
    real = encoder_eval.encode_corpus

    def counting(encoder: TextEncoder, corpus: Any, **kwargs: Any) -> np.ndarray:
        calls[id(encoder)] += 1
        return real(encoder, corpus, **kwargs)

    monkeypatch.setattr(encoder_eval, "encode_corpus", counting)
    return calls


def split(offset: int, corpus: dict[str, str]) -> RetrievalSet:
    """Three JDs over ``corpus`` (a new store each time: equal content, another object)."""
    queries = {f"q{offset + i}": f"job {offset + i}: data engineer with python" for i in range(3)}
    return RetrievalSet(queries=queries, corpus=dict(corpus), qrels={q: {f"c{i}": 1} for i, q in enumerate(queries)})


def tiny_encoder(tmp_path: Path, seed: int = 0) -> TextEncoder:
    import torch

    torch.manual_seed(seed)
    return TextEncoder(container(compose_config(["model=tiny_bert"], run_dir=tmp_path).model)).eval()


def test_every_split_of_one_model_shares_its_corpus_embeddings(tmp_path: Path, corpus_encodings: Counter) -> None:
    corpus = {f"c{i}": f"talent {i} knows python and sql, {i} years" for i in range(12)}
    other = {**corpus, "c12": "a talent only the third split ranks"}
    encoder = tiny_encoder(tmp_path)
    model = ModelEncodings(encoder, SETTINGS)
    results = [model.evaluate(rset, k=5, cutoffs=(1, 5)) for rset in (split(0, corpus), split(3, corpus),
                                                                          split(6, other))]
    assert corpus_encodings[id(encoder)] == 2  # the first corpus once for two splits, the other once
    assert "time/encode_corpus_s" in results[0].timings and "time/encode_corpus_s" not in results[1].timings
    alone = evaluate_encoder(encoder, split(3, corpus), SETTINGS, k=5, cutoffs=(1, 5))  # encoded anew: same values
    assert alone.metrics == results[1].metrics
    np.testing.assert_array_equal(alone.corpus_emb, results[1].corpus_emb)


def test_evaluate_encodes_the_corpus_once_for_test_and_ood(tmp_path: Path, corpus_encodings: Counter) -> None:
    cfg = cfg_for("evaluate", tmp_path, f"data.test_file={FIXTURE}", f"data.test_ood_file={FIXTURE}",
                  "eval.cache=false", "eval.baselines=[]")
    results = evaluate(cfg)
    assert sum(corpus_encodings.values()) == 1 and len(corpus_encodings) == 1
    for key in ("ndcg@20", "recall@100"):  # the same JDs and talents: the same values from the shared embeddings
        assert results[f"test_ood/{key}"] == results[f"test/{key}"]


def test_stage2_evaluation_encodes_each_models_corpus_once(tmp_path: Path, corpus_encodings: Counter) -> None:
    corpus = {f"c{i}": f"talent {i} knows python and sql, {i} years" for i in range(12)}
    encoder, stage1 = tiny_encoder(tmp_path, 0), tiny_encoder(tmp_path, 1)
    out = evaluate_preference_run(encoder, lambda: stage1, split(0, corpus), [], SETTINGS, k=5, cutoffs=(1, 5),
                                  ood=split(3, corpus))
    assert corpus_encodings == Counter({id(encoder): 1, id(stage1): 1})  # two models, two splits each
    assert {"test/ndcg@5", "test_ood/ndcg@5", "stage1/test_ood/ndcg@5", "delta/test_ood/ndcg@5"} <= set(out)
