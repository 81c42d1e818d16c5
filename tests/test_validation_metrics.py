"""The in-training validation (torchmetrics) and the evaluation (:func:`retrieval_metrics`) agree on the
same embeddings: ``val/ndcg@k`` during training means what ``test/ndcg@k`` means after it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import jobmatch.retrieval.validation_callback as validation
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.retrieval.metrics import retrieval_metrics

CUTOFFS = (1, 5, 10, 20)
N_QUERIES, N_CORPUS, DIM = 8, 40, 16


def retrieval_set(rng: np.random.Generator) -> RetrievalSet:
    """Random JDs and talents; each JD has 1-5 relevant talents (some deep in the ranking, past k)."""
    queries = {f"q{i}": f"jd text {i}" for i in range(N_QUERIES)}
    corpus = {f"c{j}": f"talent text {j}" for j in range(N_CORPUS)}
    qrels = {q: {f"c{j}": 1 for j in rng.choice(N_CORPUS, size=int(rng.integers(1, 6)), replace=False)}
             for q in queries}
    return RetrievalSet(queries=queries, corpus=corpus, qrels=qrels)


# offset 9: unnormalised embeddings (model.normalize=false) whose every score lies below -7, which a fixed
# shift of the cosine range would leave negative
@pytest.mark.parametrize("offset", [0.0, 9.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_validation_callback_equals_retrieval_metrics(
    seed: int, offset: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    rset = retrieval_set(rng)
    texts = [*rset.queries.values(), *rset.corpus.values()]
    vectors = rng.normal(size=(len(texts), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)  # unit vectors: the score is a cosine, no ties
    # one extra dimension, +3 on JDs and -3 on talents: every score drops by `offset` (= 9), the order is kept
    extra = np.where(np.arange(len(texts)) < len(rset.queries), 1.0, -1.0)[:, None] * np.sqrt(offset)
    vectors = np.concatenate([vectors, extra.astype(np.float32)], axis=1)
    table = dict(zip(texts, vectors, strict=True))

    def fake_encode(encoder: Any, batch: list[str], **kwargs: Any) -> np.ndarray:
        return np.stack([table[text] for text in batch])  # [B, D]

    monkeypatch.setattr(validation, "encode_texts", fake_encode)
    monkeypatch.setattr(validation, "encode_corpus", lambda encoder, corpus, **kwargs: fake_encode(
        encoder, list(corpus.values())))
    logged: dict[str, float] = {}
    module = SimpleNamespace(encoder=None, log=lambda name, value, **kw: logged.__setitem__(name, float(value)))
    trainer = SimpleNamespace(sanity_checking=False, global_rank=0, world_size=1)
    validation.RetrievalValidation(rset, cutoffs=CUTOFFS).on_validation_epoch_end(trainer, module)  # type: ignore[arg-type]

    q = np.stack([table[t] for t in rset.queries.values()])  # [Q, D]
    c = np.stack([table[t] for t in rset.corpus.values()])  # [N, D]
    scores = q @ c.T  # [Q, N]
    assert offset == 0.0 or scores.max() < -7.0  # every score negative even after a shift of 2
    run = {qid: {cid: float(s) for cid, s in zip(rset.corpus, row, strict=True)}
           for qid, row in zip(rset.queries, scores, strict=True)}
    expected = retrieval_metrics(run, rset.qrels, CUTOFFS, variants=False)
    assert set(logged) == {f"val/{name}" for name in expected}
    for name, value in expected.items():
        assert logged[f"val/{name}"] == pytest.approx(value, abs=1e-5), name
    assert 0.0 < expected["ndcg@20"] < 1.0  # a ranking that is neither perfect nor empty: the check has teeth
