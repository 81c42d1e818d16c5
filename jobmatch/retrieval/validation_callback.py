"""In-training retrieval validation (``val/ndcg@20`` ...) from each JD's top-k list, synced across devices.

Memory and time are linear in the corpus: the corpus embeddings go into an exact FAISS inner-product
index and each validation JD keeps only its top ``max(cutoffs)`` talents, so no [JDs x talents] array is
ever built. Metrics follow trec_eval (:func:`jobmatch.retrieval.metrics.per_query_metrics`): nDCG's ideal
DCG and recall's denominator count every relevant talent of the JD from qrels, retrieved or not.

Ties: within a JD's list, talents with equal scores are ordered as trec_eval orders them (score descending,
then talent id descending), the order :func:`~jobmatch.retrieval.metrics.retrieval_metrics` uses; which of
several talents tied exactly at the list's last rank enters it is FAISS's choice. Scores are the float32
inner products of the encoder's embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.retrieval.encode import EmbeddingCache, encode_corpus, encode_texts
from jobmatch.retrieval.metrics import per_query_metrics
from jobmatch.retrieval.search import build_index, search, to_run  # FAISS itself is imported by the calls


def metric_names(cutoffs: Sequence[int]) -> list[str]:
    """``ndcg@k``, ``mrr@k``, ``recall@k`` for every k, in a fixed order (the order of the synced sums)."""
    return [f"{name}@{k}" for k in cutoffs for name in ("ndcg", "mrr", "recall")]


def top_k_metric_sums(
    query_ids: Sequence[str],
    qrels: Mapping[str, Mapping[str, int]],
    corpus_ids: Sequence[str],
    scores: np.ndarray,
    indices: np.ndarray,
    cutoffs: Sequence[int],
) -> np.ndarray:
    """Sums over ``query_ids`` of their per-query metrics, from top-k lists.

    Args:
        query_ids: Q JD ids, one per row of ``scores``.
        qrels: ``{jd id: {talent id: relevance}}``; a JD missing from it has no relevant talent.
        corpus_ids: N talent ids, one per corpus row.
        scores, indices: [Q, k] each JD's top k scores and corpus rows (-1: none), k >= max(cutoffs) or N.
        cutoffs: the k of every metric.
    Returns:
        [len(metric_names(cutoffs))] float64: the sum of each metric over the Q JDs (0 when Q = 0).
    """
    names = metric_names(cutoffs)
    if len(query_ids) == 0:
        return np.zeros(len(names))
    run = to_run(query_ids, corpus_ids, scores, indices)
    local_qrels = {qid: qrels.get(qid, {}) for qid in query_ids}
    values = per_query_metrics(run, local_qrels, cutoffs, variants=False).values  # {name: [Q]}
    return np.array([values[name].sum() for name in names])


def sum_across_ranks(values: torch.Tensor) -> torch.Tensor:
    """``values`` summed over every process of the default process group (in place), as it is without one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.SUM)
    return values


class RetrievalValidation(Callback):
    """After each validation epoch, rank the whole corpus for the validation JDs and log metrics.

    Each device encodes the corpus and its share of the JDs, searches the top ``max(cutoffs)`` talents of
    each, and sums the per-JD metric values; the sums and the JD count are added up across devices (one
    all-reduce of a [3·len(cutoffs) + 1] tensor on the module's device), so every device logs the mean over
    all validation JDs.
    """

    def __init__(
        self,
        rset: RetrievalSet,
        *,
        cutoffs: Sequence[int] = (10, 20, 100),
        max_query_length: int = 256,
        max_passage_length: int = 256,
        batch_size: int = 64,
        bf16: bool = False,
        cache: EmbeddingCache | None = None,
    ) -> None:
        self.rset = rset
        self.cache = cache  # the corpus embeddings of the final model are then reused by evaluation
        self.cutoffs = tuple(cutoffs)
        self.max_query_length, self.max_passage_length = max_query_length, max_passage_length
        self.batch_size, self.bf16 = batch_size, bf16

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        encoder = pl_module.encoder
        qids = list(self.rset.queries)[trainer.global_rank :: trainer.world_size]
        kwargs = {"batch_size": self.batch_size, "bf16": self.bf16, "progress": False}
        corpus = encode_corpus(encoder, self.rset.corpus, max_length=self.max_passage_length, desc="val corpus",
                               cache=self.cache, **kwargs)  # [N, D]
        sums = np.zeros(len(metric_names(self.cutoffs)))
        if qids:
            queries = encode_texts(encoder, [self.rset.queries[q] for q in qids],
                                   max_length=self.max_query_length, desc="val queries", **kwargs)  # [Q_local, D]
            scores, indices = search(build_index(corpus, "flat"), queries, min(max(self.cutoffs), len(corpus)))
            sums = top_k_metric_sums(qids, self.rset.qrels, self.rset.corpus.ids, scores, indices, self.cutoffs)
        device = getattr(pl_module, "device", torch.device("cpu"))
        totals = sum_across_ranks(torch.tensor([*sums, len(qids)], dtype=torch.float64, device=device))
        means = totals[:-1] / totals[-1].clamp(min=1)  # [M]: every device now holds the means over all JDs
        for name, value in zip(metric_names(self.cutoffs), means, strict=True):
            pl_module.log(f"val/{name}", value.float(), rank_zero_only=False, sync_dist=False)
