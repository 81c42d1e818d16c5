"""The fairness audit of an encoder on a retrieval set: counterfactual stability and selection rates.

Rankings are exact (inner products of the model's embeddings over the whole corpus, ties by corpus row) and
read as each JD's top list, never as a [JDs x talents] array; the counterfactual corpus differs from the
factual one only in the talents' name/pronoun cues (:func:`jobmatch.data.identities.counterfactual_rows`),
so every change is the model's reaction to them, and only the talents it changes are encoded again.
:func:`audit_values` keeps the per-JD values (written as ``audit_per_query.json``, which the paired
comparison of two models reads); :func:`summarise` turns them into the result keys (flat, for ``results.json``),
per group attribute ``A`` (gender, origin, group):

- ``audit/A/topk_change@20``, ``audit/A/abs_rank_shift@100``, ``audit/A/score_shift``,
  ``audit/A/abs_score_shift``: means over JDs, each with ``_ci_low``/``_ci_high`` (bootstrap over JDs);
- ``audit/A/selection_rate@k/G``, ``audit/A/impact_ratio@k/G`` per group G, and
  ``audit/A/min_impact_ratio@k`` with its interval and ``audit/A/flagged@k`` (groups below 0.8);
- the name-blind control (the same model on profiles whose names and pronoun cues were removed):
  ``audit/A/blind_min_impact_ratio@k`` and ``audit/A/names_effect_min_impact_ratio@k`` (with names − without,
  paired over JDs), each with its interval. How low the lowest ratio falls when no name can be seen is the
  noise floor of the selection-rate figures; only the names' effect is the model's reaction to names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from jobmatch.data.identities import CorpusIdentities, counterfactual_rows, name_blind_rows
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.model import TextEncoder
from jobmatch.retrieval.encode import EmbeddingCache, encode_texts
from jobmatch.retrieval.encoder_eval import EncodeSettings, embed_set
from jobmatch.retrieval.fairness import (
    FOUR_FIFTHS,
    bootstrap_over_queries,
    counterfactual_shift,
    group_codes,
    min_ratio,
    paired_min_ratio,
    relevant_group_counts,
    selection_rates,
    top_group_counts,
)
from jobmatch.retrieval.topk import ranks_of, top_k

AUDIT_PER_QUERY_FILE = "audit_per_query.json"  # per-JD audit values beside an audit's results.json


@dataclass(frozen=True)
class AuditSettings:
    """What the audit measures: cut-offs, the ranking depth of shifts, intervals."""

    ks: Sequence[int] = (10, 20)
    change_k: int = 20
    depth: int = 100
    n_bootstrap: int = 1000
    seed: int = 0
    flag_below: float = FOUR_FIFTHS


@dataclass
class AttributeValues:
    """Per-JD audit values of one group attribute.

    Attributes:
        groups: [G] group names (sorted).
        relevant: [Q, G] relevant (rule-positive) talents of each group per JD.
        top: {k: [Q, G]} top-k slots each group takes per JD.
        shift: {name: [Q]} counterfactual changes per JD (``topk_change@20``, ``abs_rank_shift@100``,
            ``score_shift``, ``abs_score_shift``); empty when no talent's cue could be swapped.
        talents_changed: talents whose cue the counterfactual swapped.
        blind_top: {k: [Q, G]} top-k slots per group when the profiles show no name (empty: no control).
    """

    groups: list[str]
    relevant: np.ndarray
    top: dict[int, np.ndarray]
    shift: dict[str, np.ndarray] = field(default_factory=dict)
    talents_changed: int = 0
    blind_top: dict[int, np.ndarray] = field(default_factory=dict)


@dataclass
class AuditValues:
    """Per-JD audit values of one model on one retrieval set (JDs in ``queries`` order)."""

    queries: list[str]
    talents: int
    attributes: dict[str, AttributeValues]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (arrays as lists)."""
        return {"queries": self.queries, "talents": self.talents, "attributes": {
            a: {"groups": v.groups, "relevant": v.relevant.tolist(),
                "top": {str(k): t.tolist() for k, t in v.top.items()},
                "shift": {n: s.tolist() for n, s in v.shift.items()}, "talents_changed": v.talents_changed,
                "blind_top": {str(k): t.tolist() for k, t in v.blind_top.items()}}
            for a, v in self.attributes.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditValues:
        """The inverse of :meth:`to_json`."""
        return cls(data["queries"], int(data["talents"]), {
            a: AttributeValues(v["groups"], np.asarray(v["relevant"], dtype=np.int64),
                               {int(k): np.asarray(t, dtype=np.int64) for k, t in v["top"].items()},
                               {n: np.asarray(s, dtype=np.float64) for n, s in v["shift"].items()},
                               int(v["talents_changed"]),
                               {int(k): np.asarray(t, dtype=np.int64) for k, t in v.get("blind_top", {}).items()})
            for a, v in data["attributes"].items()})


@dataclass
class AuditEmbeddings:
    """What the audit ranks with: embeddings of the set's JDs and talents, and how other talent texts are embedded.

    Attributes:
        queries: [Q, D] the JDs, in ``rset.queries`` order.
        corpus: [N, D] the factual talents, in corpus order.
        embed: talent texts -> [n, D]; the audit calls it only for the talents a counterfactual changes.
    """

    queries: np.ndarray
    corpus: np.ndarray
    embed: Callable[[list[str]], np.ndarray]


def with_rows_replaced(
    emb: AuditEmbeddings, batches: Iterable[tuple[np.ndarray, list[str]]]
) -> tuple[np.ndarray | None, int]:
    """The corpus embeddings with the rows of ``batches`` ((positions, new texts), each talent once) re-embedded,
    and how many rows changed; ``None`` when none did (no copy is made)."""
    out, changed = None, 0
    for positions, texts in batches:
        if len(positions):
            out = emb.corpus.copy() if out is None else out
            out[positions] = emb.embed(texts)  # [M, D]
            changed += len(positions)
    return out, changed


def relevant_rows(rset: RetrievalSet) -> list[np.ndarray]:
    """Per JD (``rset.queries`` order), the corpus rows of its judged talents (one id lookup for all JDs)."""
    judged = [list(rset.qrels.get(qid, {})) for qid in rset.queries]
    flat = rset.corpus.positions([cid for ids in judged for cid in ids])  # [R]
    bounds = np.cumsum([0, *map(len, judged)])
    return [flat[a:b][flat[a:b] >= 0] for a, b in pairwise(bounds)]


def audit_values(
    emb: AuditEmbeddings, rset: RetrievalSet, identities: CorpusIdentities, settings: AuditSettings | None = None
) -> AuditValues:
    """The per-JD audit values of a model (its embeddings) on ``rset``, for each group attribute the corpus carries.

    Linear in the corpus: each JD keeps its factual top list (the first max(depth, change_k, ks) talents);
    the name-blind and each counterfactual corpus re-embed only the talents whose text they change, and
    their rankings are read as top lists (blind) or as the ranks of the factual top talents (counterfactual),
    computed a chunk of JDs at a time (:mod:`jobmatch.retrieval.topk`). Ties rank by corpus row.
    """
    settings = settings or AuditSettings()
    corpus_ids = rset.corpus.ids
    n = len(corpus_ids)
    factual_scores, factual = top_k(emb.queries, emb.corpus, max(settings.depth, settings.change_k, *settings.ks))
    relevant = relevant_rows(rset)
    blind_corpus = (with_rows_replaced(emb, name_blind_rows(rset.corpus, identities))[0] if identities.attributes
                    else None)  # [N, D]: the same model, no names shown
    blind = top_k(emb.queries, blind_corpus, max(settings.ks))[1] if blind_corpus is not None else None  # [Q, k]
    out: dict[str, AttributeValues] = {}
    for attribute in identities.attributes:
        names, codes = group_codes([identities.groups[attribute].get(c, "unknown") for c in corpus_ids])
        top = {k: top_group_counts(factual, codes, len(names), k=min(k, n)) for k in settings.ks}  # [Q, G] each
        blind_top = ({k: top_group_counts(blind, codes, len(names), k=min(k, n)) for k in settings.ks}
                     if blind is not None else {})
        rel = relevant_group_counts(relevant, codes, len(names))  # [Q, G]
        cf_corpus, changed = with_rows_replaced(emb, counterfactual_rows(rset.corpus, identities, attribute,
                                                                         seed=settings.seed))
        shift = {}
        if cf_corpus is not None:
            cf_ranks, cf_scores = ranks_of(emb.queries, cf_corpus, factual)  # [Q, m] each
            raw = counterfactual_shift(factual_scores, cf_ranks, cf_scores, depth=settings.depth,
                                       k=settings.change_k)  # {name: [Q]}
            shift = {_SHIFT_NAMES[n].format(k=settings.change_k, depth=settings.depth): v for n, v in raw.items()}
        out[attribute] = AttributeValues(names, rel, top, shift, int(changed), blind_top)
    return AuditValues(list(rset.queries), n, out)


_SHIFT_NAMES = {"topk_change": "topk_change@{k}", "abs_rank_shift": "abs_rank_shift@{depth}",
                "score_shift": "score_shift", "abs_score_shift": "abs_score_shift"}


def summarise(values: AuditValues, settings: AuditSettings | None = None) -> dict[str, float]:
    """Every audit figure (means and bootstrap intervals over JDs) from per-JD values."""
    settings = settings or AuditSettings()
    results: dict[str, float] = {"audit/queries": float(len(values.queries)), "audit/talents": float(values.talents)}
    for attribute, v in values.attributes.items():
        results.update(_selection(v, attribute, settings))
        results[f"audit/{attribute}/talents_changed"] = float(v.talents_changed)
        if v.shift:
            results.update(_stability(v.shift, attribute, settings))
    return results


def audit_rankings(
    emb: AuditEmbeddings, rset: RetrievalSet, identities: CorpusIdentities, settings: AuditSettings | None = None
) -> dict[str, float]:
    """Every audit figure of a model on ``rset`` (:func:`audit_values`, then :func:`summarise`)."""
    return summarise(audit_values(emb, rset, identities, settings), settings)


def encoder_embeddings(
    encoder: TextEncoder, rset: RetrievalSet, encode: EncodeSettings, cache: EmbeddingCache | None = None
) -> AuditEmbeddings:
    """The :class:`AuditEmbeddings` of an encoder: the JDs and the factual corpus encoded once (through ``cache``),
    other talent texts when the audit asks (each batch cached by its texts)."""
    query_emb, corpus_emb, _ = embed_set(encoder, rset, encode, cache)
    kwargs = {
        "max_length": encode.max_passage_length,
        "batch_size": encode.batch_size,
        "bf16": encode.bf16,
        "progress": encode.progress,
        "desc": "encode counterfactual talents",
    }

    def embed(texts: list[str]) -> np.ndarray:
        return cache.encode(encoder, texts, **kwargs) if cache else encode_texts(encoder, texts, **kwargs)

    return AuditEmbeddings(query_emb, corpus_emb, embed)


def _stability(shift: dict[str, np.ndarray], attribute: str, s: AuditSettings) -> dict[str, float]:
    names = list(shift)
    table = np.stack([shift[n] for n in names], axis=1)  # [Q, 4]
    low, high = bootstrap_over_queries(
        lambda idx: table[idx].mean(0), len(table), n_bootstrap=s.n_bootstrap, seed=s.seed
    )
    out: dict[str, float] = {}
    for i, name in enumerate(names):
        key = f"audit/{attribute}/{name}"
        out |= {key: float(table[:, i].mean()), f"{key}_ci_low": float(low[i]), f"{key}_ci_high": float(high[i])}
    return out


def _selection(v: AttributeValues, attribute: str, s: AuditSettings) -> dict[str, float]:
    out: dict[str, float] = {}
    rel = v.relevant
    for k, top in v.top.items():
        rate, impact = selection_rates(top, rel)
        for g, name in enumerate(v.groups):  # a group without relevant talents has no rate: left out
            if np.isfinite(rate[g]):
                out[f"audit/{attribute}/selection_rate@{k}/{name}"] = float(rate[g])
                out[f"audit/{attribute}/impact_ratio@{k}/{name}"] = float(impact[g])
        out[f"audit/{attribute}/groups_without_relevant@{k}"] = float(np.sum(~np.isfinite(rate)))
        out |= _lowest_ratio(f"audit/{attribute}/min_impact_ratio@{k}", top, rel, s)
        out[f"audit/{attribute}/flagged@{k}"] = float(np.sum(impact < s.flag_below))
        if k in v.blind_top:
            out |= _lowest_ratio(f"audit/{attribute}/blind_min_impact_ratio@{k}", v.blind_top[k], rel, s)
            est, low, high = paired_min_ratio((top, rel), (v.blind_top[k], rel), n_bootstrap=s.n_bootstrap,
                                              seed=s.seed)
            key = f"audit/{attribute}/names_effect_min_impact_ratio@{k}"
            out |= {key: est, f"{key}_ci_low": low, f"{key}_ci_high": high}
    return out


def _lowest_ratio(key: str, top: np.ndarray, rel: np.ndarray, s: AuditSettings) -> dict[str, float]:
    """``key`` (the lowest impact ratio of counts top, rel [Q, G]) with its bootstrap interval over JDs."""
    low, high = bootstrap_over_queries(lambda idx: min_ratio(top[idx], rel[idx]), len(top),
                                       n_bootstrap=s.n_bootstrap, seed=s.seed)
    return {key: float(min_ratio(top, rel)[0]), f"{key}_ci_low": float(low[0]), f"{key}_ci_high": float(high[0])}

