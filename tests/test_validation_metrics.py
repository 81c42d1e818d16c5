"""The in-training validation works from top-k lists and means what evaluation means: on the same embeddings
it logs the values of the dense torchmetrics computation it replaced and of :func:`retrieval_metrics`, never
builds a [JDs x talents] array, and sums per-JD values across DDP ranks."""

from __future__ import annotations

import multiprocessing as mp
import os
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torchmetrics.retrieval import RetrievalMRR, RetrievalNormalizedDCG, RetrievalRecall

import jobmatch.retrieval.validation_callback as validation
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.retrieval.metrics import retrieval_metrics
from tests.helpers.ranks import free_port

CUTOFFS = (1, 5, 10, 20)
N_QUERIES, N_CORPUS, DIM = 9, 40, 16


def retrieval_set(rng: np.random.Generator) -> RetrievalSet:
    """Random JDs and talents; each JD has 1-5 relevant talents (some deep in the ranking, past k)."""
    queries = {f"q{i}": f"jd text {i}" for i in range(N_QUERIES)}
    corpus = {f"c{j}": f"talent text {j}" for j in range(N_CORPUS)}
    qrels = {q: {f"c{j}": 1 for j in rng.choice(N_CORPUS, size=int(rng.integers(1, 6)), replace=False)}
             for q in queries}
    return RetrievalSet(queries=queries, corpus=corpus, qrels=qrels)


def embedding_table(rset: RetrievalSet, rng: np.random.Generator, offset: float = 0.0) -> dict[str, np.ndarray]:
    """{text: vector}: random unit vectors (no tied scores), every JD-talent score lowered by ``offset``."""
    texts = [*rset.queries.values(), *rset.corpus.values()]
    vectors = rng.normal(size=(len(texts), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # one extra dimension, +√offset on JDs and -√offset on talents: every score drops by `offset`
    extra = np.where(np.arange(len(texts)) < len(rset.queries), 1.0, -1.0)[:, None] * np.sqrt(offset)
    return dict(zip(texts, np.concatenate([vectors, extra.astype(np.float32)], axis=1), strict=True))


class NoDenseArray(np.ndarray):
    """Corpus embeddings that refuse to be multiplied with or transposed into a [JDs x talents] array."""

    def __matmul__(self, other: Any) -> np.ndarray:
        raise AssertionError("a dense [JDs x talents] score array was built")

    __rmatmul__ = __matmul__

    @property
    def T(self) -> np.ndarray:
        raise AssertionError("the corpus embeddings were transposed for a dense score array")


def use_table(table: dict[str, np.ndarray]) -> None:
    """Make the validation module encode by looking texts up in ``table`` (the corpus as :class:`NoDenseArray`)."""
    validation.encode_texts = lambda encoder, batch, **kwargs: np.stack([table[t] for t in batch])
    validation.encode_corpus = lambda encoder, corpus, **kwargs: np.stack(
        [table[t] for t in corpus.values()]).view(NoDenseArray)


def run_callback(rset: RetrievalSet, rank: int = 0, world_size: int = 1) -> dict[str, float]:
    """The values one rank logs after a validation epoch."""
    logged: dict[str, float] = {}
    module = SimpleNamespace(encoder=None, log=lambda name, value, **kw: logged.__setitem__(name, float(value)))
    trainer = SimpleNamespace(sanity_checking=False, global_rank=rank, world_size=world_size)
    validation.RetrievalValidation(rset, cutoffs=CUTOFFS).on_validation_epoch_end(trainer, module)  # type: ignore[arg-type]
    return logged


def dense_torchmetrics(rset: RetrievalSet, scores: np.ndarray) -> dict[str, float]:
    """The computation the callback replaced: torchmetrics over the dense [Q, N] scores (each JD's shifted so that
    its lowest is 1, since torchmetrics counts only talents scored > 0)."""
    raw = torch.from_numpy(scores).double()  # [Q, N]
    shifted = raw - raw.min(dim=1, keepdim=True).values + 1.0
    relevant = torch.tensor([[cid in rset.qrels[q] for cid in rset.corpus.ids] for q in rset.queries])  # [Q, N]
    indexes = torch.arange(len(scores))[:, None].expand_as(shifted)
    out = {}
    for k in CUTOFFS:
        for name, metric in (("ndcg", RetrievalNormalizedDCG(top_k=k)), ("mrr", RetrievalMRR(top_k=k)),
                             ("recall", RetrievalRecall(top_k=k))):
            metric.update(shifted.flatten(), relevant.flatten(), indexes=indexes.flatten())
            out[f"{name}@{k}"] = float(metric.compute())
    return out


@pytest.fixture(autouse=True)
def _restore_encoders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "encode_texts", validation.encode_texts)
    monkeypatch.setattr(validation, "encode_corpus", validation.encode_corpus)


# offset 9: unnormalised embeddings (model.normalize=false) whose every score lies below -7
@pytest.mark.parametrize("offset", [0.0, 9.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_k_validation_equals_the_dense_torchmetrics_path_and_retrieval_metrics(seed: int, offset: float) -> None:
    rng = np.random.default_rng(seed)
    rset = retrieval_set(rng)
    table = embedding_table(rset, rng, offset)
    use_table(table)
    logged = run_callback(rset)

    q = np.stack([table[t] for t in rset.queries.values()])  # [Q, D]
    c = np.stack([table[t] for t in rset.corpus.values()])  # [N, D]
    scores = q @ c.T  # [Q, N], the reference only
    assert offset == 0.0 or scores.max() < -7.0
    run = {qid: dict(zip(rset.corpus.ids, row.tolist(), strict=True)) for qid, row in zip(rset.queries, scores,
                                                                                           strict=True)}
    expected = retrieval_metrics(run, rset.qrels, CUTOFFS, variants=False)
    dense = dense_torchmetrics(rset, scores)
    assert set(logged) == {f"val/{name}" for name in expected}
    for name, value in expected.items():
        assert logged[f"val/{name}"] == pytest.approx(value, abs=1e-5), name
        assert logged[f"val/{name}"] == pytest.approx(dense[name], abs=1e-5), name
    assert 0.0 < expected["ndcg@20"] < 1.0  # a ranking that is neither perfect nor empty: the check has teeth
    assert expected["recall@5"] < 1.0  # relevant talents beyond the list still count in the denominators


def test_tied_scores_are_ordered_as_trec_eval_orders_them() -> None:
    """Talents c0..c3 share one embedding (equal scores); trec_eval ranks ties by id descending: c3, c2, c1, c0.
    A JD whose one relevant talent is c0 gets it at rank 4 (torchmetrics would average nDCG over the tie)."""
    rng = np.random.default_rng(5)
    rset = retrieval_set(rng)
    rset.qrels["q0"] = {"c0": 1}
    table = embedding_table(rset, rng)
    for j in range(1, 4):
        table[f"talent text {j}"] = table["talent text 0"]
    table["jd text 0"] = table["talent text 0"]  # q0's best four talents are the tied c0..c3
    use_table(table)
    logged = run_callback(rset)
    run = {qid: {cid: float(table[q] @ table[t]) for cid, t in rset.corpus.items()} for qid, q in rset.queries.items()}
    expected = retrieval_metrics(run, rset.qrels, CUTOFFS, variants=False)
    for name, value in expected.items():
        assert logged[f"val/{name}"] == pytest.approx(value, abs=1e-5), name
    alone = retrieval_metrics({"q0": run["q0"]}, {"q0": rset.qrels["q0"]}, (5,), variants=False)
    assert alone["mrr@5"] == pytest.approx(0.25) and alone["ndcg@5"] == pytest.approx(1 / np.log2(5))


def test_a_rank_without_validation_jds_still_joins_the_sum() -> None:
    """More ranks than JDs: a rank with none logs the mean over the others' (here, alone, 0 JDs: zeros)."""
    rng = np.random.default_rng(0)
    rset = retrieval_set(rng)
    use_table(embedding_table(rset, rng))
    logged = run_callback(rset, rank=N_QUERIES, world_size=N_QUERIES + 1)
    assert logged and all(value == 0.0 for value in logged.values())


def _gloo_rank(rank: int, port: int, seed: int, results) -> None:
    """One of two gloo processes: the same data and embeddings as the single process, half of the JDs."""
    torch.set_num_threads(1)
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)
    try:
        rng = np.random.default_rng(seed)
        rset = retrieval_set(rng)
        use_table(embedding_table(rset, rng))
        results.put((rank, run_callback(rset, rank=rank, world_size=2)))
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_log_the_single_process_values() -> None:
    """9 JDs split 5 / 4 over two processes: both log the single-process means (per-JD sums, not rank means)."""
    rng = np.random.default_rng(3)
    rset = retrieval_set(rng)
    use_table(embedding_table(rset, rng))
    alone = run_callback(rset)
    port = free_port()
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    ranks = [ctx.Process(target=_gloo_rank, args=(r, port, 3, results)) for r in (0, 1)]
    for process in ranks:
        process.start()
    found = dict(results.get(timeout=300) for _ in ranks)
    for process in ranks:
        process.join(timeout=60)
    assert all(p.exitcode == 0 for p in ranks)
    for rank in (0, 1):
        assert found[rank] == pytest.approx(alone, abs=1e-6)
    one_rank = run_callback(rset, rank=0, world_size=2)  # rank 0's JDs alone: a different mean
    assert one_rank != pytest.approx(alone, abs=1e-6)
