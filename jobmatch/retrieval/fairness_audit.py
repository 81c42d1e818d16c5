"""The fairness audit of an encoder on a retrieval set: counterfactual stability and selection rates.

Scores are exact cosine similarities of every test JD with every talent ([Q, N]); the
counterfactual corpus differs from the factual one only in the talents' name/pronoun cues
(:func:`jobmatch.data.identities.counterfactual_corpus`), so every change is the model's reaction
to them. Result keys (flat, for ``results.json``), per group attribute ``A`` (gender, origin, group):

- ``audit/A/topk_change@20``, ``audit/A/abs_rank_shift@100``, ``audit/A/score_shift``,
  ``audit/A/abs_score_shift``: means over JDs, each with ``_ci_low``/``_ci_high`` (bootstrap over JDs);
- ``audit/A/selection_rate@k/G``, ``audit/A/impact_ratio@k/G`` per group G, and
  ``audit/A/min_impact_ratio@k`` with its interval and ``audit/A/flagged@k`` (groups below 0.8).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from jobmatch.data.identities import CorpusIdentities, counterfactual_corpus
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.model import TextEncoder
from jobmatch.retrieval.encode import EmbeddingCache, encode_texts
from jobmatch.retrieval.encoder_eval import EncodeSettings, embed_set
from jobmatch.retrieval.fairness import (
    FOUR_FIFTHS,
    bootstrap_over_queries,
    counterfactual_shift,
    group_counts,
    selection_rates,
)


@dataclass(frozen=True)
class AuditSettings:
    """What the audit measures: cut-offs, the ranking depth of shifts, intervals."""

    ks: Sequence[int] = (10, 20)
    change_k: int = 20
    depth: int = 100
    n_bootstrap: int = 1000
    seed: int = 0
    flag_below: float = FOUR_FIFTHS


Scorer = Callable[[list[str]], np.ndarray]
"""Scores [Q, N] of the audited set's JDs against a list of N talent texts (in corpus order)."""


def audit_rankings(
    score: Scorer, rset: RetrievalSet, identities: CorpusIdentities, settings: AuditSettings | None = None
) -> dict[str, float]:
    """Every audit figure of a scorer on ``rset``, for each group attribute the corpus carries."""
    settings = settings or AuditSettings()
    corpus_ids = list(rset.corpus)
    scores = score(list(rset.corpus.values()))  # [Q, N]
    relevant = np.array([[cid in rset.qrels.get(qid, {}) for cid in corpus_ids] for qid in rset.queries])  # [Q, N]
    results: dict[str, float] = {"audit/queries": float(len(rset.queries)), "audit/talents": float(len(corpus_ids))}
    for attribute in identities.attributes:
        groups = [identities.groups[attribute].get(c, "unknown") for c in corpus_ids]
        results.update(_selection(scores, groups, relevant, attribute, settings))
        cf_corpus, changed = counterfactual_corpus(rset.corpus, identities, attribute, seed=settings.seed)
        results[f"audit/{attribute}/talents_changed"] = float(changed)
        if changed:
            results.update(_stability(scores, score(list(cf_corpus.values())), attribute, settings))
    return results


def encoder_scorer(
    encoder: TextEncoder, rset: RetrievalSet, encode: EncodeSettings, cache: EmbeddingCache | None = None
) -> Scorer:
    """A :data:`Scorer` by cosine similarity: the JDs are encoded once, each corpus when asked."""
    query_emb, corpus_emb, _ = embed_set(encoder, rset, encode, cache)
    factual = list(rset.corpus.values())
    kwargs = {
        "max_length": encode.max_passage_length,
        "batch_size": encode.batch_size,
        "bf16": encode.bf16,
        "progress": encode.progress,
        "desc": "encode counterfactual corpus",
    }

    def score(texts: list[str]) -> np.ndarray:
        if texts == factual:
            return query_emb @ corpus_emb.T
        emb = cache.encode(encoder, texts, **kwargs) if cache else encode_texts(encoder, texts, **kwargs)
        return query_emb @ emb.T

    return score


def _stability(scores: np.ndarray, cf_scores: np.ndarray, attribute: str, s: AuditSettings) -> dict[str, float]:
    shift = counterfactual_shift(scores, cf_scores, depth=s.depth, k=s.change_k)  # {name: [Q]}
    names = {
        "topk_change": f"topk_change@{s.change_k}",
        "abs_rank_shift": f"abs_rank_shift@{s.depth}",
        "score_shift": "score_shift",
        "abs_score_shift": "abs_score_shift",
    }
    table = np.stack([shift[k] for k in names], axis=1)  # [Q, 4]
    low, high = bootstrap_over_queries(
        lambda idx: table[idx].mean(0), len(table), n_bootstrap=s.n_bootstrap, seed=s.seed
    )
    out: dict[str, float] = {}
    for i, name in enumerate(names.values()):
        key = f"audit/{attribute}/{name}"
        out |= {key: float(table[:, i].mean()), f"{key}_ci_low": float(low[i]), f"{key}_ci_high": float(high[i])}
    return out


def _selection(
    scores: np.ndarray, groups: list[str], relevant: np.ndarray, attribute: str, s: AuditSettings
) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in s.ks:
        names, top, rel = group_counts(scores, groups, relevant, k=k)  # [Q, G] each
        rate, impact = selection_rates(top, rel)
        low, high = bootstrap_over_queries(
            lambda idx, top=top, rel=rel: _min_ratio(selection_rates(top[idx], rel[idx])[1]),
            len(top),
            n_bootstrap=s.n_bootstrap,
            seed=s.seed,
        )
        for g, name in enumerate(names):  # a group without relevant talents has no rate: left out
            if np.isfinite(rate[g]):
                out[f"audit/{attribute}/selection_rate@{k}/{name}"] = float(rate[g])
                out[f"audit/{attribute}/impact_ratio@{k}/{name}"] = float(impact[g])
        out[f"audit/{attribute}/groups_without_relevant@{k}"] = float(np.sum(~np.isfinite(rate)))
        key = f"audit/{attribute}/min_impact_ratio@{k}"
        out |= {key: float(np.nanmin(impact)), f"{key}_ci_low": float(low[0]), f"{key}_ci_high": float(high[0])}
        out[f"audit/{attribute}/flagged@{k}"] = float(np.sum(impact < s.flag_below))
    return out


def _min_ratio(impact: np.ndarray) -> np.ndarray:
    """[1]: the lowest impact ratio (NaN when no group has a rate)."""
    return np.array([np.nanmin(impact) if np.isfinite(impact).any() else np.nan])
