"""Inference-side measurements: the precomputed stage-2 reference, unique-text encoding, corpus encoding
throughput, and padded vs length-grouped training batches of realistic talent lengths."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from experiments.gpu.shapes import Shapes, talent_lengths, words
from experiments.gpu.steps import batch_tokens, build_module, fit, release, stage1_batches
from jobmatch.data.records import PreferenceRecord
from jobmatch.model import TextEncoder
from jobmatch.modules.reference import compute_reference_scores
from jobmatch.retrieval.encode import encode_texts
from jobmatch.retrieval.encoder_eval import EncodeSettings


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def judged_pairs(shapes: Shapes, vocab: int, jds: int, talents: int) -> list[PreferenceRecord]:
    """``shapes.pairs`` judged pairs drawn among ``jds`` JDs and ``talents`` talents (texts repeat, as a
    judge's pairs do: 10 pairs per JD among its top 100 candidates)."""
    rng = np.random.default_rng(2)
    jd_len, talent_len = shapes.lengths["paper"]
    jd_texts = [words(rng, jd_len - 1, vocab) for _ in range(jds)]
    talent_texts = [words(rng, talent_len - 1, vocab) for _ in range(talents)]
    out = []
    for i in range(shapes.pairs):
        a, b = rng.choice(talents, size=2, replace=False)
        out.append(PreferenceRecord(query=jd_texts[i % jds], passage1=talent_texts[a], passage2=talent_texts[b],
                                    preferred="A"))
    return out


def reference_scores(encoder: TextEncoder, shapes: Shapes, vocab: int) -> dict[str, Any]:
    """The frozen reference of stage 2 (:func:`compute_reference_scores`: each distinct text encoded once)."""
    records = judged_pairs(shapes, vocab, jds=max(2, shapes.pairs // 8), talents=max(4, shapes.pairs // 2))
    jd_len, talent_len = shapes.lengths["paper"]
    settings = EncodeSettings(max_query_length=jd_len, max_passage_length=talent_len, batch_size=8,
                              bf16=not shapes.tiny, progress=False)
    distinct = len({r.query for r in records}) + len({t for r in records for t in (r.passage1, r.passage2)})
    _sync()
    start = time.perf_counter()
    scores = compute_reference_scores(encoder, records, settings)
    _sync()
    seconds = time.perf_counter() - start
    return {"pairs": len(records), "texts_naive": 3 * len(records), "texts_encoded": distinct,
            "seconds": round(seconds, 3), "pairs_per_s": round(len(records) / seconds, 2),
            "texts_per_s": round(distinct / seconds, 2), "finite": bool(np.isfinite(scores).all())}


def corpus_encoding(encoder: TextEncoder, shapes: Shapes, vocab: int) -> dict[str, Any]:
    """Texts/s of :func:`encode_texts` (inference mode, bf16 autocast, length-sorted batches) per length."""
    rng = np.random.default_rng(3)
    out = {}
    for name, (_, talent_len) in shapes.lengths.items():
        texts = [words(rng, talent_len - 1, vocab) for _ in range(shapes.corpus_texts)]
        encode_texts(encoder, texts[:8], max_length=talent_len, batch_size=8, bf16=not shapes.tiny, progress=False)
        batch = 16 if talent_len >= 4096 else 64
        _sync()
        start = time.perf_counter()
        emb = encode_texts(encoder, texts, max_length=talent_len, batch_size=batch, bf16=not shapes.tiny,
                           progress=False)
        _sync()
        seconds = time.perf_counter() - start
        out[name] = {"texts": len(texts), "tokens": talent_len, "batch_size": batch,
                     "texts_per_s": round(len(texts) / seconds, 2),
                     "tokens_per_s": round(len(texts) * talent_len / seconds, 1), "dim": int(emb.shape[1])}
    return out


def padding(shapes: Shapes, model: dict[str, Any], vocab: int, eos: int) -> dict[str, Any]:
    """Stage-1 LoRA steps on talents of realistic lengths (log-normal, the sample's median and range, cut at
    the paper's 4,096): random batches padded to their longest text, the same with ``stage.chunk_size``
    (jobmatch sorts a batch by length and trims each chunk's padding), and length-grouped batches."""
    rng = np.random.default_rng(4)
    batches = int(shapes.extra.get("padding_batches", 4))
    jd_len, talent_len = shapes.lengths["paper"]
    draw = lambda n: talent_lengths(rng, n, shapes.talent_spread, talent_len)  # noqa: E731
    batch = shapes.stage1_batch["paper"]
    out: dict[str, Any] = {}
    settings = {"padded": (None, False), "padded_chunked": (4, False), "grouped": (None, True)}
    for name, (chunk, group) in settings.items():
        release()
        module = build_module("stage1", model, shapes, chunk_size=chunk)
        built = stage1_batches(shapes, (jd_len, talent_len), batch, batches, vocab, eos, talent_lengths=draw,
                               pad_id=eos, group=group)
        clock = fit(module, built, shapes, shapes.warmup_steps + batches)
        real = sum(sum(batch_tokens(b)[0]) for b in built)
        padded = sum(batch_tokens(b)[1] for b in built)
        seconds = sum(clock.seconds[shapes.warmup_steps:])
        out[name] = {"real_tokens_per_s": round(real / seconds, 1), "padding_share": round(1 - real / padded, 3),
                     "seconds": round(seconds, 3)}
        del module
    low, median, high = shapes.talent_spread
    out["talents"] = f"log-normal {low}-{high} tokens, median {median}, cut at {talent_len}; {batch} JDs x " \
                     f"(1 + {shapes.negatives}) per batch, {batches} batches, LoRA, checkpointing on"
    out["grouped_vs_padded"] = round(out["grouped"]["real_tokens_per_s"] / out["padded"]["real_tokens_per_s"], 3)
    out["chunked_vs_padded"] = round(
        out["padded_chunked"]["real_tokens_per_s"] / out["padded"]["real_tokens_per_s"], 3)
    return out
