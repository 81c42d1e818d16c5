"""In-training retrieval validation with torchmetrics (``val/ndcg@20`` ...), synced across devices."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torchmetrics import MetricCollection
from torchmetrics.retrieval import RetrievalMRR, RetrievalNormalizedDCG, RetrievalRecall

from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.retrieval.encode import EmbeddingCache, encode_corpus, encode_texts


def retrieval_collection(cutoffs: Sequence[int]) -> MetricCollection:
    """nDCG@k, MRR@k and Recall@k for every k, named ``ndcg@k`` etc."""
    metrics = {}
    for k in cutoffs:
        metrics[f"ndcg@{k}"] = RetrievalNormalizedDCG(top_k=k)
        metrics[f"mrr@{k}"] = RetrievalMRR(top_k=k)
        metrics[f"recall@{k}"] = RetrievalRecall(top_k=k)
    return MetricCollection(metrics)


class RetrievalValidation(Callback):
    """After each validation epoch, rank the whole corpus for the validation JDs and log metrics.

    Each device encodes the corpus and its share of the queries; the metric states are synced by
    torchmetrics, so the logged values cover every query. Scores over the full corpus are given to
    the metrics, so nDCG's ideal DCG and recall's denominator count every relevant talent
    (trec_eval semantics, matching :func:`jobmatch.retrieval.metrics.retrieval_metrics`).
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
        self.metrics: MetricCollection | None = None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        encoder = pl_module.encoder
        qids = list(self.rset.queries)[trainer.global_rank :: trainer.world_size]
        corpus_ids = self.rset.corpus.ids
        kwargs = {"batch_size": self.batch_size, "bf16": self.bf16, "progress": False}
        corpus = encode_corpus(encoder, self.rset.corpus, max_length=self.max_passage_length, desc="val corpus",
                               cache=self.cache, **kwargs)
        queries = encode_texts(encoder, [self.rset.queries[q] for q in qids], max_length=self.max_query_length,
                               desc="val queries", **kwargs)
        # torchmetrics' recall and MRR count a talent only when its score is > 0. Each JD's scores are
        # shifted so that its lowest is 1 (float64: no new ties): the order is kept and every talent counts,
        # as in retrieval_metrics, whether the embeddings are normalised (cosines >= -1) or not.
        raw = torch.from_numpy(queries @ corpus.T).double()  # [Q_local, N]
        scores = raw - raw.min(dim=1, keepdim=True).values + 1.0
        relevant = np.zeros(scores.shape, dtype=bool)
        column = {cid: j for j, cid in enumerate(corpus_ids)}
        for i, qid in enumerate(qids):
            for cid, rel in self.rset.qrels[qid].items():
                relevant[i, column[cid]] = rel > 0
        # Global query index so that queries from different devices stay distinct after the sync.
        offsets = torch.tensor([trainer.global_rank + i * trainer.world_size for i in range(len(qids))])
        indexes = offsets[:, None].expand_as(scores)
        if self.metrics is None:
            self.metrics = retrieval_collection(self.cutoffs)
        self.metrics = self.metrics.to(scores.device)
        self.metrics.reset()
        self.metrics.update(scores.flatten(), torch.from_numpy(relevant).flatten(), indexes=indexes.flatten())
        values = self.metrics.compute()  # synced across processes by torchmetrics
        for name, value in values.items():
            pl_module.log(f"val/{name}", value, rank_zero_only=False, sync_dist=False)
