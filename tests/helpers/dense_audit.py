"""The fairness audit computed the dense way, as a reference for the top-k audit: full [JDs x talents] score
matrices, every corpus (factual, name-blind, each counterfactual) embedded whole, full sorts of every row.
Only for small test data."""

from __future__ import annotations

import numpy as np

from jobmatch.data.identities import CorpusIdentities, counterfactual_corpus, name_blind_corpus
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.retrieval.fairness_audit import AttributeValues, AuditEmbeddings, AuditSettings, AuditValues


def dense_ranks(scores: np.ndarray) -> np.ndarray:
    """[Q, N] rank of every talent per JD (0 = best; ties broken by talent index), from scores [Q, N]."""
    order = np.lexsort((np.broadcast_to(np.arange(scores.shape[1]), scores.shape), -scores), axis=1)  # [Q, N]
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.arange(scores.shape[1])[None, :].repeat(scores.shape[0], 0), axis=1)
    return out


def dense_shift(scores: np.ndarray, cf_scores: np.ndarray, *, depth: int, k: int) -> dict[str, np.ndarray]:
    """Per-JD counterfactual changes from the two full score matrices [Q, N]."""
    depth, k = min(depth, scores.shape[1]), min(k, scores.shape[1])
    before, after = dense_ranks(scores), dense_ranks(cf_scores)  # [Q, N]
    top = before < depth
    delta = cf_scores.astype(np.float64) - scores.astype(np.float64)
    return {
        "abs_rank_shift": (np.abs(after - before) * top).sum(1) / depth,
        "topk_change": ((before < k) & (after >= k)).sum(1) / k,
        "score_shift": (delta * top).sum(1) / depth,
        "abs_score_shift": (np.abs(delta) * top).sum(1) / depth,
    }


def dense_group_counts(scores: np.ndarray, groups: list[str], relevant: np.ndarray, k: int
                       ) -> tuple[list[str], np.ndarray, np.ndarray]:
    names = sorted(set(groups))
    member = np.asarray(groups)[None, :] == np.asarray(names)[:, None]  # [G, N]
    top = dense_ranks(scores) < min(k, scores.shape[1])  # [Q, N]
    return names, top.astype(np.int64) @ member.T, relevant.astype(np.int64) @ member.T


def dense_audit_values(emb: AuditEmbeddings, rset: RetrievalSet, identities: CorpusIdentities,
                       settings: AuditSettings) -> AuditValues:
    """:func:`jobmatch.retrieval.fairness_audit.audit_values` on dense matrices, every corpus embedded whole."""
    corpus_ids = list(rset.corpus)
    scores = emb.queries @ emb.corpus.T  # [Q, N]
    relevant = np.array([[cid in rset.qrels.get(qid, {}) for cid in corpus_ids] for qid in rset.queries])
    blind_corpus, blinded = name_blind_corpus(rset.corpus, identities)
    blind = emb.queries @ emb.embed(list(blind_corpus.values())).T if blinded else None
    out = {}
    for attribute in identities.attributes:
        groups = [identities.groups[attribute].get(c, "unknown") for c in corpus_ids]
        top, blind_top = {}, {}
        for k in settings.ks:
            names, top[k], rel = dense_group_counts(scores, groups, relevant, k)
            if blind is not None:
                blind_top[k] = dense_group_counts(blind, groups, relevant, k)[1]
        cf_corpus, changed = counterfactual_corpus(rset.corpus, identities, attribute, seed=settings.seed)
        shift = {}
        if changed:
            cf_scores = emb.queries @ emb.embed(list(cf_corpus.values())).T
            raw = dense_shift(scores, cf_scores, depth=settings.depth, k=settings.change_k)
            names_of = {"topk_change": f"topk_change@{settings.change_k}",
                        "abs_rank_shift": f"abs_rank_shift@{settings.depth}",
                        "score_shift": "score_shift", "abs_score_shift": "abs_score_shift"}
            shift = {names_of[n]: v for n, v in raw.items()}
        out[attribute] = AttributeValues(names, rel, top, shift, int(changed), blind_top)
    return AuditValues(list(rset.queries), len(corpus_ids), out)
