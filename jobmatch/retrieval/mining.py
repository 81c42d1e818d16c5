"""Hard-negative mining from a model's rankings: rank window, false-negative guard, topk/sample/cluster."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from jobmatch.data.corpus import Corpus
from jobmatch.data.records import ContrastiveRecord
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.errors import OptionError
from jobmatch.utils.option_rules import Choice, Num, check_fields, option

log = logging.getLogger(__name__)
Strategy = Literal["topk", "sample", "cluster"]
STRATEGIES: tuple[str, ...] = ("topk", "sample", "cluster")


@dataclass
class MiningConfig:
    """How negatives are chosen from each query's ranked candidates (each field declared once, with the values
    it accepts: the ``mining`` config group's schema is this dataclass).

    A candidate scoring above ``margin`` × the mean score of the query's positives is often an unlabelled
    positive: the guard drops it.

    Raises:
        OptionError: a field outside its rule, or an empty window, naming the field.
    """

    window_start: int = option(0, "first rank of the mining window [start, end)", Num(low=0, integer=True))
    window_end: int = option(100, "end of the mining window (exclusive; reference: 0-100)", Num(low=1, integer=True))
    n_negatives: int = option(10, "negatives kept per JD (training draws some of them each epoch)",
                              Num(low=1, integer=True))
    strategy: str = option("topk", "topk (highest-ranked) | sample (uniform in the window) | cluster",
                           Choice(STRATEGIES))
    n_clusters: int = option(10, "cluster: k-means clusters over the window (reference: 10)", Num(low=1, integer=True))
    cluster_lambda: float = option(0.5, "cluster: the i-th candidate met in its cluster gets weight λ^i",
                                   Num(low=0, high=1, low_open=True))
    margin: float | None = option(0.95, "drop candidates above margin × the positives' mean score (null: off)",
                                  Num(low=0, low_open=True, nullable=True))
    seed: int = option(0, "seeds sampling and k-means", Num(integer=True))

    def __post_init__(self) -> None:
        check_fields(self)
        if self.window_end <= self.window_start:
            raise OptionError(f"{{window_end}}={self.window_end}: the window [{self.window_start}, "
                              f"{self.window_end}) is empty; pass {{window_end}} above {{window_start}}")


@dataclass
class MiningStats:
    """What mining did: chosen negatives' mean rank and score, guard drops, short queries."""

    queries: int = 0
    dropped_by_guard: int = 0
    too_few: list[str] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, float | int | list[str]]:
        return {
            "mining/queries": self.queries,
            "mining/dropped_by_guard": self.dropped_by_guard,
            "mining/queries_too_few": len(self.too_few),
            "mining/too_few_ids": self.too_few[:50],
            "mining/mean_rank": float(np.mean(self.ranks)) if self.ranks else float("nan"),
            "mining/mean_score": float(np.mean(self.scores)) if self.scores else float("nan"),
        }


def cluster_weights(embeddings: np.ndarray, n_clusters: int, lam: float, seed: int) -> np.ndarray:
    """Weights λ^i for the i-th candidate (in rank order) met in its k-means cluster.

    Args:
        embeddings: [C, D] candidate embeddings in rank order.
    Returns:
        [C] weights: the best-ranked candidate of every cluster gets 1, the next λ, then λ², ...
    """
    k = min(n_clusters, len(embeddings))
    if k <= 1:
        labels = np.zeros(len(embeddings), dtype=np.int64)
    else:
        import faiss  # here: config validation imports this module, and training runs without FAISS

        kmeans = faiss.Kmeans(embeddings.shape[1], k, niter=20, seed=seed, verbose=False, spherical=True)
        kmeans.train(np.ascontiguousarray(embeddings, dtype=np.float32))
        labels = kmeans.index.search(np.ascontiguousarray(embeddings, dtype=np.float32), 1)[1][:, 0]
    seen: dict[int, int] = {}
    weights = np.empty(len(embeddings))
    for i, label in enumerate(labels.tolist()):
        weights[i] = lam ** seen.get(label, 0)
        seen[label] = seen.get(label, 0) + 1
    return weights


def choose(candidates: np.ndarray, emb: np.ndarray, cfg: MiningConfig, rng: np.random.Generator) -> np.ndarray:
    """Positions (into ``candidates``, rank-ordered) of the n chosen negatives."""
    n = cfg.n_negatives
    if cfg.strategy == "topk":
        return np.arange(n)
    if cfg.strategy == "sample":
        return np.sort(rng.choice(len(candidates), size=n, replace=False))
    weights = cluster_weights(emb, cfg.n_clusters, cfg.cluster_lambda, int(rng.integers(2**31)))
    return np.sort(rng.choice(len(candidates), size=n, replace=False, p=weights / weights.sum()))


def mine_negatives(
    records: Sequence[ContrastiveRecord],
    rset: RetrievalSet,
    query_emb: np.ndarray,
    corpus_emb: np.ndarray,
    ranked: np.ndarray,
    scores: np.ndarray,
    cfg: MiningConfig,
    round_index: int,
    *,
    with_texts: bool = True,
) -> tuple[list[ContrastiveRecord], MiningStats]:
    """New contrastive records whose negatives are mined from each query's ranking.

    Args:
        records: the training records, aligned with ``rset.queries`` (same order).
        rset: their queries, the corpus and qrels (positives) by id.
        query_emb: [Q, D]; corpus_emb: [N, D] (row j is the j-th corpus id).
        ranked, scores: [Q, b] corpus rows and scores of each query's top b (b ≥ window_end or N).
        round_index: tagged on every mined negative (``negative_rounds``).
        with_texts: mined rows carry their talents' texts (the reference format); False: id rows
            (``positive_ids``, ``negative_ids`` into the corpus; no text is read), for a corpus file's ids.
    Returns:
        Records with the mined negatives (or, for queries with too few candidates, their previous
        negatives and a warning), and the statistics.
    """
    corpus_ids = rset.corpus.ids
    corpus_bytes = rset.corpus.byte_lengths()  # [N]: only a text as long as the JD can be the JD itself
    row_of = {cid: j for j, cid in enumerate(corpus_ids)}
    stats = MiningStats(queries=len(records))
    out: list[ContrastiveRecord] = []
    for q, (record, qid) in enumerate(zip(records, rset.queries, strict=True)):
        rng = np.random.default_rng((cfg.seed, round_index, q))
        positives = set(rset.qrels[qid])
        rows = ranked[q, cfg.window_start : cfg.window_end]
        row_scores = scores[q, cfg.window_start : cfg.window_end]
        keep = np.array([j >= 0 and corpus_ids[j] not in positives for j in rows], dtype=bool)
        keep &= ~is_text(rset.corpus, rows, record.query, corpus_bytes)
        if cfg.margin is not None and positives:
            pos_score = float(np.mean(corpus_emb[[row_of[p] for p in positives]] @ query_emb[q]))
            guard = row_scores > cfg.margin * pos_score
            stats.dropped_by_guard += int((guard & keep).sum())
            keep &= ~guard
        ranks = np.flatnonzero(keep) + cfg.window_start
        candidates = rows[keep]
        if len(candidates) < cfg.n_negatives:
            stats.too_few.append(qid)
            out.append(record)
            continue
        picks = choose(candidates, corpus_emb[candidates], cfg, rng)
        chosen = candidates[picks]
        stats.ranks += ranks[picks].tolist()
        stats.scores += row_scores[keep][picks].tolist()
        out.append(ContrastiveRecord(
            query=record.query,
            positives=record.positives if with_texts else (),
            negatives=tuple(rset.corpus.texts(chosen)) if with_texts else (),
            query_id=record.query_id or qid,
            positive_ids=record.positive_ids if with_texts else record.positive_ids or tuple(rset.qrels[qid]),
            negative_ids=tuple(corpus_ids[j] for j in chosen),
            negative_rounds=(round_index,) * len(chosen),
            extra=record.extra,
        ))
    if stats.too_few:
        log.warning("%d queries had fewer than %d candidates after filtering; they keep their previous "
                    "negatives (e.g. %s)", len(stats.too_few), cfg.n_negatives, stats.too_few[:5])
    return out, stats


def is_text(corpus: Corpus, rows: np.ndarray, text: str, byte_lengths: np.ndarray) -> np.ndarray:
    """[len(rows)] whether each corpus row (-1: none) holds exactly ``text``; reads only rows of its byte length."""
    out = np.zeros(len(rows), dtype=bool)
    size = len(text.encode())
    same = np.flatnonzero((rows >= 0) & (byte_lengths[np.maximum(rows, 0)] == size))
    if len(same):
        out[same] = [t == text for t in corpus.texts(rows[same])]
    return out


def combine_rounds(
    previous: Sequence[ContrastiveRecord], mined: Sequence[ContrastiveRecord]
) -> list[ContrastiveRecord]:
    """Union of each query's negatives over rounds (deduplicated, first round kept): by id where both rounds
    name their negatives by id, else by text. A mined id row gives an id row (the previous round's texts
    dropped; its negatives need ids)."""
    out = []
    for old, new in zip(previous, mined, strict=True):
        if old.query != new.query:
            raise ValueError("combine_rounds: records of the two rounds are not aligned")
        if new.is_id_row:
            if old.negatives and old.negative_ids is None:
                raise ValueError(f"combine_rounds: query {old.query_id or old.query[:40]!r} has negatives without "
                                 "negative_ids, and the mined round names its negatives by id: give the training "
                                 "file negative_ids, or mine with write_texts=True (texts inline)")
            old = old.by_id()
        by_id = old.negative_ids is not None and new.negative_ids is not None
        keys = list(old.negative_ids if by_id else old.negatives)  # type: ignore[arg-type]
        negatives, ids = list(old.negatives), list(old.negative_ids or [None] * len(keys))
        rounds = list(old.negative_rounds or [0] * len(keys))
        seen = set(keys)
        new_keys = new.negative_ids if by_id else new.negatives
        for i, key in enumerate(new_keys):  # type: ignore[arg-type]
            if key not in seen:
                seen.add(key)
                if new.negatives:
                    negatives.append(new.negatives[i])
                ids.append(new.negative_ids[i] if new.negative_ids else None)
                rounds.append(new.negative_rounds[i] if new.negative_rounds else 0)
        out.append(ContrastiveRecord(
            query=old.query, positives=old.positives, negatives=tuple(negatives), query_id=old.query_id,
            positive_ids=old.positive_ids or new.positive_ids,
            negative_ids=tuple(ids) if all(i is not None for i in ids) else None,  # type: ignore[arg-type]
            negative_rounds=tuple(rounds), extra=old.extra,
        ))
    return out
