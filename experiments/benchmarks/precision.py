"""bf16-mixed vs fp32 (32-true) for stage-1 training: step time, and the metric after training.

Each contender trains the same number of steps from the same seed in its own process
(``model=minilm`` + LoRA, ``data=synthetic_small``, 4 JDs x (1 positive + 3 negatives) with in-batch
negatives, texts cut at 256 tokens: most talents are 250-350 tokens long; a batch of 8 JDs already
needs over 7.5 GB in fp32 here); the precisions alternate over repetitions. Step time: the median over steps 2..n of
a process, then the median over repetitions. Quality: after training, the first repetition of each
precision encodes the val split (30 JDs against the 1000-talent corpus) in fp32 and scores nDCG@20;
the paired per-JD difference and its standard error say whether the two are within noise.

    .venv/bin/python -m experiments.benchmarks precision
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
import torch

from experiments.benchmarks.common import alternate, bench_result, median, run_isolated, target

LIGHTNING_PRECISIONS = ("32-true", "bf16-mixed")
BATCH = 4  # JDs per step: 20 texts of ~256 tokens; 8 JDs need > 7.5 GB in fp32, 16 JDs ~11 GB (too much here)
NEGATIVES = 3  # negatives per JD: 1 + 3 talents per JD
MAX_LENGTH = 256


def shape(quick: bool) -> tuple[int, int]:
    """(JDs per batch, max tokens per text): the full benchmark's, or tiny ones for the smoke test."""
    return (4, 32) if quick else (BATCH, MAX_LENGTH)


def settings_for(quick: bool) -> dict[str, Any]:
    """The benchmark's settings (full or quick)."""
    batch, length = shape(quick)
    return {
        "model": "tiny_bert" if quick else "minilm",
        "data": "synthetic_small",
        "batch": batch,
        "batch_note": f"{batch} JDs x (1+{NEGATIVES}) talents, in-batch negatives",
        "lengths": f"query {length}, passage {length} tokens (max)",
        "precision": list(LIGHTNING_PRECISIONS),
        "steps": 3 if quick else 6,
        "repetitions": 1 if quick else 2,
        "timed": "median over steps 2..n per process, median over repetitions",
        "quality": "nDCG@20 on val (30 JDs x 1000 talents), fp32 encoding, after the same steps from seed 42",
        "lora": "r=8 (minilm), r=4 (tiny_bert)",
    }


def measure(precision: str, steps: int, quick: bool, evaluate: bool) -> dict[str, Any]:
    """Child process: train ``steps`` stage-1 steps in ``precision``; optionally evaluate on val.

    Returns:
        ``step_s`` (per step, the first excluded), ``setup_s`` and, with ``evaluate``,
        ``ndcg@20`` (mean) and ``per_query`` ([30] per-JD nDCG@20 in the val set's order).
    """
    from experiments.benchmarks.training import compose, train_steps
    from jobmatch.retrieval.encoder_eval import EncodeSettings, evaluate_encoder
    from jobmatch.retrieval.metrics import per_query_metrics

    batch, length = shape(quick)
    if quick:
        torch.set_num_threads(1)  # the smoke test: no OpenMP spinning on a shared machine
    with tempfile.TemporaryDirectory(prefix="bench-precision-") as tmp:
        cfg = compose(
            [
                f"model={'tiny_bert' if quick else 'minilm'}",
                "data=synthetic_small",
                "stage=contrastive",
                f"trainer.precision={precision}",
                f"trainer.max_steps={steps}",
                f"data.batch_size={batch}",
                f"data.n_negatives={NEGATIVES}",
                f"data.max_query_length={length}",
                f"data.max_passage_length={length}",
            ],
            tmp,
        )
        out = train_steps(cfg)
    result: dict[str, Any] = {"step_s": out["step_s"][1:], "setup_s": out["setup_s"]}
    if evaluate:
        rset = out["datamodule"].val_retrieval
        encoder = out["module"].encoder.eval()
        res = evaluate_encoder(
            encoder,
            rset,
            EncodeSettings(length, length, batch_size=64, bf16=False, progress=False),
            k=100,
            cutoffs=(20,),
        )
        per_query = per_query_metrics(res.run, rset.qrels, (20,), variants=False).values["ndcg@20"]
        result.update(
            {
                "ndcg@20": float(per_query.mean()),
                "per_query": per_query.tolist(),
                "eval_s": sum(v for k, v in res.timings.items() if k.startswith("time/")),
            }
        )
    return result


def _z(delta: float, stderr: float) -> float:
    """``|delta| / stderr``: 0 for no difference, inf for a difference without spread."""
    if delta == 0:
        return 0.0
    return abs(delta) / stderr if stderr > 0 else float("inf")


def run(quick: bool = False) -> dict:
    """bf16-mixed / fp32 step-time speed-up (target >= 1.8) and the nDCG@20 difference after training."""
    settings = settings_for(quick)
    steps, reps = settings["steps"], settings["repetitions"]
    children: dict[str, list[dict[str, Any]]] = {p: [] for p in LIGHTNING_PRECISIONS}

    def contender(precision: str):
        def call() -> float:
            first = not children[precision]
            child = run_isolated(
                "experiments.benchmarks.precision",
                "measure",
                {"precision": precision, "steps": steps, "quick": quick, "evaluate": first},
            )
            children[precision].append(child)
            return median(child["step_s"])

        return call

    times = alternate({p: contender(p) for p in LIGHTNING_PRECISIONS}, repetitions=reps, warmup=0)
    step = {p: median(times[p]) for p in LIGHTNING_PRECISIONS}
    fp32, bf16 = (children[p][0] for p in LIGHTNING_PRECISIONS)
    diff = np.asarray(bf16["per_query"]) - np.asarray(fp32["per_query"])  # [Q] paired per-JD differences
    stderr = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    rows = [
        {
            "precision": p,
            "step_s": round(step[p], 4),
            "step_s_runs": [round(t, 4) for t in times[p]],
            "speedup_vs_fp32": round(step["32-true"] / step[p], 3),
            "val_ndcg@20": round(children[p][0]["ndcg@20"], 4),
            "peak_rss_mb": round(median([c["peak_rss_mb"] for c in children[p]]), 1),
        }
        for p in LIGHTNING_PRECISIONS
    ]
    speedup = step["32-true"] / step["bf16-mixed"]
    delta = bf16["ndcg@20"] - fp32["ndcg@20"]
    within = _z(delta, stderr) <= 2.0
    settings["ndcg@20_bf16_minus_fp32"] = round(delta, 4)
    settings["ndcg@20_paired_stderr"] = round(stderr, 4)
    return bench_result(
        "precision",
        "Stage-1 training step: bf16-mixed vs fp32 (CPU autocast)",
        settings,
        rows,
        [
            target("bf16-mixed speed-up over fp32 (step time)", speedup, ">=", 1.8),
            target(
                "|nDCG@20 bf16 - fp32| / paired std. error",
                _z(delta, stderr),
                "<=",
                2.0,
                note=f"delta {delta:+.4f}, s.e. {stderr:.4f} over {len(diff)} val JDs; "
                f"{'within' if within else 'outside'} noise",
            ),
        ],
    )
