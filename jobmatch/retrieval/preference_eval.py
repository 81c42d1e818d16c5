"""The two numbers of every stage-2 run (docs/design.md §1, Evaluation), for the run and its stage-1 start.

- retention: retrieval on the rule-based test split (``test/ndcg@20`` ...), as ``jobmatch.evaluate``;
- alignment: pairwise accuracy on the held-out judged test pairs, with a bootstrap 95% interval
  and a breakdown by judge confidence (``test/alignment`` ...);
- for pairs of the offline judge, ``test/alignment_ceiling`` (its noiseless scores' agreement with its own
  noisy verdicts: the best alignment to expect) and ``test/alignment_intent`` (agreement with the noiseless
  preference); absent for other judges;
- for the offline judge too, ``test/alignment_visible_ceiling`` and ``test/alignment_visible_intent``: its
  noiseless preference on the text the encoder receives (each text cut at the token limit), against its verdicts
  and against its noiseless preference on the whole texts: what a model that knows the judge exactly but sees
  only the visible text would reach (a property of the pairs and the limits: no stage-1 value, no delta);
- the same for the stage-1 checkpoint (``stage1/...``) and the differences (``delta/...``), with a paired
  bootstrap 95% interval over test JDs for nDCG@20, alignment and intent (``delta/<metric>_ci_low``/``_ci_high``:
  both models are scored on the same JDs and pairs);
- per-JD values in ``per_query.json`` beside ``results.json`` (for paired method-vs-method intervals).

Embeddings go through the on-disk :class:`EmbeddingCache`, so the stage-1 model is encoded once
across all the runs of a sweep that start from it.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jobmatch.data.records import PreferenceRecord
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.errors import OptionText
from jobmatch.model import TextEncoder
from jobmatch.retrieval.alignment import alignment, intent_wins, judge_ceiling_and_intent, pair_wins
from jobmatch.retrieval.encode import EmbeddingCache, encode_texts, model_fingerprint
from jobmatch.retrieval.encoder_eval import CUTOFFS, EncodeSettings, ModelEncodings
from jobmatch.retrieval.metrics import per_query_metrics
from jobmatch.retrieval.visible_text import visible_texts
from jobmatch.utils.bootstrap import PER_QUERY_FILE, paired_bootstrap, paired_diffs

log = logging.getLogger(__name__)
OFFLINE_JUDGE_PREFIX = "offline-judge("  # the ``model`` of records judged by jobmatch.data.synthetic.judge
PAIRED_CUTOFF = 20  # the nDCG cutoff of the paired comparisons
# metrics of the judged pairs themselves (the judge and the token limits), not of a model: no stage-1 delta
PAIR_PROPERTIES = ("alignment_ceiling", "alignment_visible_ceiling", "alignment_visible_intent")


def pair_texts(records: Sequence[PreferenceRecord]) -> tuple[list[str], list[str], np.ndarray]:
    """Unique JD texts, unique talent texts, and per pair the rows (query, chosen, rejected) [P, 3]."""
    queries: dict[str, int] = {}
    passages: dict[str, int] = {}
    rows = [
        (queries.setdefault(r.query, len(queries)), passages.setdefault(r.chosen, len(passages)),
         passages.setdefault(r.rejected, len(passages)))
        for r in records
    ]
    return list(queries), list(passages), np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def pair_similarities(
    encoder: TextEncoder, records: Sequence[PreferenceRecord], settings: EncodeSettings,
    encode: Callable[..., np.ndarray] = encode_texts,
) -> np.ndarray:
    """[P, 2] similarities (s(q, w), s(q, l)) of ``encoder`` as it is, each unique text encoded once.

    ``encode`` is :func:`encode_texts` or a cached equivalent (``EmbeddingCache.encode``).
    """
    queries, passages, rows = pair_texts(records)
    kwargs = {"batch_size": settings.batch_size, "bf16": settings.bf16, "progress": settings.progress}
    query_emb = encode(encoder, queries, max_length=settings.max_query_length, desc="encode JDs", **kwargs)  # [Q, D]
    passage_emb = encode(encoder, passages, max_length=settings.max_passage_length, desc="encode talents",
                         **kwargs)  # [N, D]
    q = query_emb[rows[:, 0]]  # [P, D]
    return np.stack([(q * passage_emb[rows[:, 1]]).sum(-1), (q * passage_emb[rows[:, 2]]).sum(-1)], axis=1)


def offline_judge_totals(records: Sequence[PreferenceRecord]) -> np.ndarray | None:
    """[P, 2] the offline judge's noiseless scores (chosen, rejected) when every pair was judged by it, else None.

    The offline judge reads only the texts, so its noiseless scores are recomputed here from them.
    """
    if not records or not all((r.model or "").startswith(OFFLINE_JUDGE_PREFIX) for r in records):
        return None
    if any(r.is_id_row for r in records):  # no texts to read: every score would be 0 and every pair a tie
        raise ValueError("offline_judge_totals needs the talents' texts; resolve id rows from the corpus first")
    from jobmatch.data.synthetic.judge import OfflineJudge

    totals = OfflineJudge().noiseless_totals([(r.query, r.chosen, r.rejected) for r in records])
    return np.asarray(totals, dtype=np.float64).reshape(-1, 2)


def visible_ceiling_and_intent(
    encoder: TextEncoder, records: Sequence[PreferenceRecord], settings: EncodeSettings, judge_totals: np.ndarray
) -> dict[str, float]:
    """The offline judge on the text ``encoder`` receives (each text cut at ``settings``' token limits).

    ``judge_totals`` [P, 2] are its noiseless scores of the whole texts (:func:`offline_judge_totals`). Returns
    ``alignment_visible_ceiling``: the share of pairs where its noiseless preference on the visible texts agrees
    with its verdict on the whole texts (ties 0.5), and ``alignment_visible_intent``: the share where it agrees
    with its noiseless preference on the whole texts (ties 0.5).
    """
    ceiling, intent = visible_pair_wins(encoder, records, settings, judge_totals)
    return {"alignment_visible_ceiling": float(ceiling.mean()), "alignment_visible_intent": float(intent.mean())}


def visible_pair_wins(
    encoder: TextEncoder, records: Sequence[PreferenceRecord], settings: EncodeSettings, judge_totals: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, the two shares :func:`visible_ceiling_and_intent` averages: [P] visible-ceiling wins and [P]
    visible-intent wins (1, 0.5 on a tie, 0)."""
    from jobmatch.data.synthetic.judge import OfflineJudge

    queries, passages, rows = pair_texts(records)
    append_eos = bool(encoder.cfg.get("append_eos", False))
    seen_queries = visible_texts(encoder.tokenizer, queries, max_length=settings.max_query_length,
                                 append_eos=append_eos)
    seen_passages = visible_texts(encoder.tokenizer, passages, max_length=settings.max_passage_length,
                                  append_eos=append_eos)
    triples = [(seen_queries[q], seen_passages[w], seen_passages[lo]) for q, w, lo in rows.tolist()]
    visible = np.asarray(OfflineJudge().noiseless_totals(triples), dtype=np.float64).reshape(-1, 2)  # [P, 2]
    visible_margin = visible[:, 0] - visible[:, 1]  # [P] chosen − rejected as the verdict named them
    full_margin = judge_totals[:, 0] - judge_totals[:, 1]  # [P]
    return pair_wins(visible_margin, np.zeros_like(visible_margin)), intent_wins(visible_margin, full_margin)


def pair_query_ids(records: Sequence[PreferenceRecord]) -> list[str]:
    """The JD id of each pair (its ``query_id``, else a hash of the JD text)."""
    return [r.query_id or hashlib.sha256(r.query.encode()).hexdigest()[:16] for r in records]


def per_query_means(query_ids: Sequence[str], values: np.ndarray) -> dict[str, float]:
    """{JD id: mean of ``values`` ([P]) over that JD's pairs}."""
    sums: dict[str, list[float]] = {}
    for qid, value in zip(query_ids, values.tolist(), strict=True):
        sums.setdefault(qid, []).append(value)
    return {qid: float(np.mean(v)) for qid, v in sums.items()}


def pair_alignment(
    encoder: TextEncoder, records: Sequence[PreferenceRecord], settings: EncodeSettings,
    cache: EmbeddingCache | None = None, *, n_bootstrap: int = 1000, seed: int = 0,
    judge_totals: np.ndarray | None = None,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """:func:`jobmatch.retrieval.alignment.alignment` of ``encoder`` on judged pairs (confidence bins when known),
    plus ``score_margin``: the mean s(q, w) − s(q, l), a continuous companion of the win rate, and with the
    judge's noiseless ``judge_totals`` [P, 2], ``alignment_ceiling`` and ``alignment_intent``.

    Returns the metrics and the per-JD values (``alignment``, ``n_pairs``, ``alignment_intent``: {JD id: value}).
    """
    encode = functools.partial(cache.encode, model_fp=model_fingerprint(encoder)) if cache else encode_texts
    scores = pair_similarities(encoder, records, settings, encode)  # [P, 2]
    confidence = np.array([np.nan if r.confidence_score is None else r.confidence_score for r in records])
    out = alignment(scores[:, 0], scores[:, 1], confidence=None if np.isnan(confidence).all() else confidence,
                    n_bootstrap=n_bootstrap, seed=seed)
    out["score_margin"] = float((scores[:, 0] - scores[:, 1]).mean())
    query_ids = pair_query_ids(records)
    per_query = {"alignment": per_query_means(query_ids, pair_wins(scores[:, 0], scores[:, 1])),
                 "n_pairs": {qid: float(n) for qid, n in Counter(query_ids).items()}}
    if judge_totals is not None:
        model_margin, judge_margin = scores[:, 0] - scores[:, 1], judge_totals[:, 0] - judge_totals[:, 1]
        out.update(judge_ceiling_and_intent(model_margin, judge_margin))
        per_query["alignment_intent"] = per_query_means(query_ids, intent_wins(model_margin, judge_margin))
    return out, per_query


def retention_and_alignment(
    encoder: TextEncoder,
    rset: RetrievalSet | None,
    pairs: Sequence[PreferenceRecord],
    settings: EncodeSettings,
    cache: EmbeddingCache | None = None,
    *,
    k: int = 100,
    cutoffs: Sequence[int] = CUTOFFS,
    index_kind: str = "auto",
    n_bootstrap: int = 1000,
    judge_totals: np.ndarray | None = None,
    encodings: ModelEncodings | None = None,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Retrieval metrics on ``rset`` (when given) and alignment on ``pairs`` (when any), unprefixed, and the
    per-JD values behind them (``ndcg@20`` and those of :func:`pair_alignment`) for paired comparisons.
    ``encodings`` (of ``encoder``) keeps the corpus embeddings between the calls of one model."""
    out: dict[str, float] = {}
    per_query: dict[str, dict[str, float]] = {}
    if rset is not None:
        encodings = encodings or ModelEncodings(encoder, settings, cache)
        result = encodings.evaluate(rset, k=k, cutoffs=cutoffs, index_kind=index_kind)
        out.update(result.metrics)
        ndcg = per_query_metrics(result.run, rset.qrels, (PAIRED_CUTOFF,), variants=False)
        per_query[f"ndcg@{PAIRED_CUTOFF}"] = dict(zip(ndcg.query_ids, ndcg.values[f"ndcg@{PAIRED_CUTOFF}"].tolist(),
                                                      strict=True))
    if pairs:
        metrics, pair_values = pair_alignment(encoder, pairs, settings, cache, n_bootstrap=n_bootstrap,
                                              judge_totals=judge_totals)
        out.update(metrics)
        per_query.update(pair_values)
    return out, per_query


def with_deltas(run: dict[str, float], stage1: dict[str, float]) -> dict[str, float]:
    """``test/`` (the run), ``stage1/`` and ``delta/`` (run − stage 1) keys of two metric dicts.

    The judge's ceilings (``PAIR_PROPERTIES``) are properties of the pairs, not of the model: they get no delta.
    """
    out = {f"test/{k}": v for k, v in run.items()}
    out.update({f"stage1/{k}": v for k, v in stage1.items()})
    for key, value in run.items():
        if key in stage1 and not key.startswith("n_pairs") and "_ci_" not in key and key not in PAIR_PROPERTIES:
            out[f"delta/{key}"] = value - stage1[key]
    return out


def paired_delta_intervals(run: dict[str, dict[str, float]], stage1: dict[str, dict[str, float]]
                           ) -> dict[str, float]:
    """``delta/<metric>_ci_low``/``_ci_high``: paired bootstrap 95% intervals of run − stage 1 over the JDs both
    were evaluated on (per-JD values as in ``per_query.json``; alignment metrics weighted by the JD's pair count;
    the out-of-distribution split's nDCG@20 as ``delta/test_ood/ndcg@20_ci_…``)."""
    out: dict[str, float] = {}
    names = {f"ndcg@{PAIRED_CUTOFF}": f"ndcg@{PAIRED_CUTOFF}", "alignment": "alignment",
             "alignment_intent": "alignment_intent", f"ood_ndcg@{PAIRED_CUTOFF}": f"test_ood/ndcg@{PAIRED_CUTOFF}"}
    for metric, name in names.items():
        if metric not in run or metric not in stage1:
            continue
        diffs, weights = paired_diffs({0: run}, {0: stage1}, metric)  # [1, J]
        if diffs.size == 0:
            continue
        _, low, high = paired_bootstrap(diffs, weights)
        out[f"delta/{name}_ci_low"], out[f"delta/{name}_ci_high"] = low, high
    return out


def ood_deltas(run: dict[str, float], stage1: dict[str, float]) -> dict[str, float]:
    """:func:`with_deltas` for the out-of-distribution split: ``test_ood/``, ``{stage1,delta}/test_ood/`` keys."""
    out = {}
    for key, value in with_deltas(run, stage1).items():
        prefix, name = key.split("/", 1)
        out["test_ood/" + name if prefix == "test" else f"{prefix}/test_ood/{name}"] = value
    return out


def evaluate_preference_run(
    encoder: TextEncoder,
    stage1: Callable[[], TextEncoder],
    rset: RetrievalSet | None,
    pairs: Sequence[PreferenceRecord],
    settings: EncodeSettings,
    cache: EmbeddingCache | None = None,
    *,
    device: torch.device | str = "cpu",
    k: int = 100,
    cutoffs: Sequence[int] = CUTOFFS,
    index_kind: str = "auto",
    out_dir: str | Path | None = None,
    ood: RetrievalSet | None = None,
) -> dict[str, Any]:
    """Retention and alignment of ``encoder`` and of the stage-1 encoder (built by ``stage1()``), with deltas.

    Both are encoded on ``device`` with ``settings``, through ``cache`` when given; retrieval uses
    ``k``, ``cutoffs`` and ``index_kind`` (see :func:`retention_and_alignment`).
    With ``out_dir``, the per-JD values of both (nDCG@20 per test JD; alignment, pair count and intent per JD
    of the judged pairs; ``ood_ndcg@20`` per out-of-distribution JD) go to ``out_dir/per_query.json`` for
    ``python -m jobmatch.report``'s paired intervals.
    With an out-of-distribution split ``ood``, its retrieval metrics come as ``test_ood/``, ``stage1/test_ood/``
    and ``delta/test_ood/`` keys.
    """
    if rset is None:
        log.warning(OptionText("no rule-based test split ({test_file}): retention is not reported"))
    if not pairs:
        log.warning("no held-out judged pairs: alignment is not reported")
    kwargs: dict[str, Any] = {"k": k, "cutoffs": tuple(cutoffs), "index_kind": index_kind}
    judge_totals = offline_judge_totals(pairs)
    # one ModelEncodings per model: the test and OOD splits share its corpus embeddings
    kwargs["encodings"] = ModelEncodings(encoder.to(device), settings, cache)
    run, run_values = retention_and_alignment(encoder, rset, pairs, settings, cache, judge_totals=judge_totals,
                                              **kwargs)
    visible = visible_ceiling_and_intent(encoder, pairs, settings, judge_totals) if judge_totals is not None else {}
    run.update(visible)
    run_ood, run_ood_values = retention_and_alignment(encoder, ood, [], settings, cache, **kwargs) if ood else ({}, {})
    reference = stage1().to(device)
    kwargs["encodings"] = ModelEncodings(reference, settings, cache)
    start, start_values = retention_and_alignment(reference, rset, pairs, settings, cache,
                                                  judge_totals=judge_totals, **kwargs)
    start.update(visible)  # the same pairs and token limits
    start_ood, start_ood_values = (retention_and_alignment(reference, ood, [], settings, cache, **kwargs) if ood
                                   else ({}, {}))
    del kwargs["encodings"]
    for values, ood_values in ((run_values, run_ood_values), (start_values, start_ood_values)):
        values.update({f"ood_{name}": v for name, v in ood_values.items()})  # ood_ndcg@20 per OOD JD
    del reference
    gc.collect()
    if out_dir is not None:
        path = Path(out_dir) / PER_QUERY_FILE
        path.write_text(json.dumps({"test": run_values, "stage1": start_values}, sort_keys=True) + "\n")
    return {**with_deltas(run, start), **paired_delta_intervals(run_values, start_values),
            **ood_deltas(run_ood, start_ood)}
