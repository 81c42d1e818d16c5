"""Each text encoded once per step: unique-text batches vs one forward row per slot.

Side by side in one process, on the same model and data, alternating the variants step by step:
- stage 1 (InfoNCE): ``unique`` (each distinct passage of the batch encoded once, then gathered) vs
  ``naive`` (every one of the B·G slots encoded); same sampler, same batches;
- stage 2 (RankPO): ``grouped+unique`` (``data.group_pairs_by_query``: the pairs of one JD batched
  together, each distinct JD and talent encoded once) vs ``naive`` (pairs shuffled independently,
  every JD and talent encoded per pair).

A timed step is the loss's forward and backward on one training batch (the optimizer step is the
same for both and left out), at the precision the demo trains with on this CPU
(``${cpu_bf16:bf16-mixed,32-true}``: bf16 autocast where the CPU has fast bf16, fp32 elsewhere).
Settings are the demo's (conf/experiment/demo.yaml): MiniLM with LoRA, batch 16, 3 negatives,
passages ≤ 192 tokens, and the judged pairs drawn as the demo's annotation draws them
(conf/pairs/default.yaml): 10 pairs per training JD, uniform among its top 100 candidates. Here the
candidates are the JD's positives and negatives, then a seeded sample of the corpus (which talents
they are does not change the cost: passages are cut at 192 tokens; nor does the judge's verdict).
Reported: time ratios and texts encoded per step, not absolute times.

    .venv/bin/python -m experiments.benchmarks unique_texts
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from experiments.benchmarks.common import bench_result, median, target
from experiments.benchmarks.training import compose
from jobmatch.app.config_tree import compose_tree
from jobmatch.utils.hardware import cpu_has_fast_bf16


def demo_annotation() -> Any:
    """The demo's ``annotate`` config (``pipeline`` + ``experiment=demo``): pairs per training JD, the top-k
    candidates they are drawn from and the sampler, so that the benchmark follows the demo when it changes."""
    return compose_tree("pipeline", ["experiment=demo"]).annotate


def demo_batches(quick: bool) -> dict[str, Any]:
    """The demo's stage-1 batch settings (quick: tiny_bert, short texts), shared with ``compile_step``."""
    length = 64 if quick else 192
    return {
        "model": "tiny_bert" if quick else "minilm",
        "data": "synthetic_small (train split)",
        "batch": 16,
        "n_negatives": 3,
        "max_passage_length": length,
        "lengths": f"query 256, passage {length} tokens (max)",
    }


def stage1_overrides(settings: dict[str, Any]) -> list[str]:
    """Config overrides of :func:`demo_batches`' settings for a stage-1 run."""
    return [
        f"model={settings['model']}",
        "data=synthetic_small",
        f"data.batch_size={settings['batch']}",
        f"data.n_negatives={settings['n_negatives']}",
        f"data.max_passage_length={settings['max_passage_length']}",
    ]


def settings_for(quick: bool) -> dict[str, Any]:
    """The benchmark's settings (full: the demo's; quick: tiny_bert, short texts)."""
    steps = 2 if quick else 6
    return {
        **demo_batches(quick),
        "pairs_per_jd": "{pairs_per_query}, {sampler} among {top_k} candidates (the demo's annotation)".format(
            **demo_annotation()
        ),
        "precision": "bf16 autocast" if cpu_has_fast_bf16() else "fp32 (this CPU has no fast bf16)",
        "steps": steps,
        "repetitions": f"{steps} batches per variant (after one warm-up batch), alternating",
        "timed": "forward + backward of the loss per batch; median",
    }


def write_pairs(records: list, directory: Path) -> Path:
    """Judged-pair JSONL: the demo's pairs per JD, drawn by its sampler among its top-k candidates (here the
    JD's positives and negatives first, then a seeded sample of the other passages), as annotation samples them."""
    from jobmatch.annotate.sampling import sample_rank_pairs
    from jobmatch.data.readers import write_jsonl

    annotate = demo_annotation()
    candidates, per_jd = int(annotate.top_k), int(annotate.pairs_per_query)
    rng = np.random.default_rng(0)
    corpus = list(dict.fromkeys(p for rec in records for p in (*rec.positives, *rec.negatives)))
    rows = []
    for rec in records:
        known = list(dict.fromkeys((*rec.positives, *rec.negatives)))
        seen = set(known)
        others = [p for p in corpus if p not in seen]
        extra = rng.choice(len(others), size=min(max(0, candidates - len(known)), len(others)), replace=False)
        pool = [*known, *(others[int(k)] for k in extra)][:candidates]
        for a, b in sample_rank_pairs(len(pool), per_jd, strategy=str(annotate.sampler), rng=rng):
            rows.append(
                {"query": rec.query, "passage1": pool[a], "passage2": pool[b], "preferred": "A", "confidence_score": 90}
            )
    path = directory / "preferences_train.jsonl"
    write_jsonl(path, rows)
    return path


def batches(cfg: Any, n: int) -> tuple[Any, list]:
    """The DataModule of ``cfg`` and its first ``n`` training batches (epoch 0)."""
    import jobmatch.app.builders as entry

    datamodule = entry.build_datamodule(cfg)
    datamodule.setup("fit")
    return datamodule, list(itertools.islice(iter(datamodule.train_dataloader()), n))


def one_row_per_slot(batch: Any) -> Any:
    """The naive layout of a batch: every slot its own row (a passage or JD encoded as often as it occurs), the
    padding unchanged; the comparison this benchmark times against."""
    from jobmatch.data.collate import ContrastiveBatch, PreferenceBatch

    if isinstance(batch, ContrastiveBatch):
        return dataclasses.replace(batch, passages=batch.passages.rows(batch.slots), passage_index=None,
                                   passage_keys=None if batch.passage_keys is None else batch.passage_keys[batch.slots])
    assert isinstance(batch, PreferenceBatch)
    n = len(batch)
    talents = torch.cat([batch.chosen_index, batch.rejected_index])  # [2B]
    return dataclasses.replace(
        batch, queries=batch.queries.rows(batch.query_index), talents=batch.talents.rows(talents),
        query_index=torch.arange(n), chosen_index=torch.arange(n), rejected_index=torch.arange(n, 2 * n),
    )


def timed_step(loss_fn: Callable[[], torch.Tensor], module: torch.nn.Module, bf16: bool | None = None) -> float:
    """Seconds of one forward + backward; bf16 autocast when ``bf16`` (None: where the CPU has fast bf16,
    as the demo trains)."""
    module.zero_grad(set_to_none=True)
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_fast_bf16() if bf16 is None else bf16):
        loss = loss_fn()
    loss.backward()
    return time.perf_counter() - start


def compare(module: torch.nn.Module, loss_fn: Callable[[Any], torch.Tensor], variants: dict[str, list]) -> dict:
    """Alternate the variants batch by batch (the first round is warm-up): {variant: [seconds]}."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for step, group in enumerate(zip(*variants.values(), strict=True)):
        for name, batch in zip(variants, group, strict=True):
            seconds = timed_step(lambda batch=batch: loss_fn(batch), module)
            if step > 0:
                times[name].append(seconds)
    return times


def stage1(settings: dict[str, Any], run_dir: str) -> list[dict[str, Any]]:
    """InfoNCE steps: unique passages vs every slot encoded."""
    import jobmatch.app.builders as entry

    common = stage1_overrides(settings)
    n = settings["steps"] + 1
    cfg = compose(common, run_dir)
    unique = batches(cfg, n)[1]
    data = {"naive": [one_row_per_slot(b) for b in unique], "unique": unique}
    module = entry.build_module(cfg).train()
    module.trainer = cpu_trainer()
    times = compare(module, lambda b: module.contrastive_loss(b)[0], data)
    return _rows("stage 1 (InfoNCE)", times, {k: [b.texts_encoded for b in v[1:]] for k, v in data.items()})


def stage2(settings: dict[str, Any], run_dir: str) -> list[dict[str, Any]]:
    """RankPO steps (frozen reference: a lookup): grouped + unique vs shuffled + every text per pair."""
    import jobmatch.app.builders as entry
    from jobmatch.data.readers import read_contrastive

    base = compose([f"model={settings['model']}", "data=synthetic_small"], run_dir)
    entry.prepare_data(base.data)
    pairs = write_pairs(read_contrastive(str(base.data.train_file)), Path(run_dir))
    common = [
        f"model={settings['model']}",
        "data=synthetic_small",
        "stage=rankpo",
        f"data.batch_size={settings['batch']}",
        f"data.max_passage_length={settings['max_passage_length']}",
        f"data.preference_train_file={pairs}",
    ]
    n = settings["steps"] + 1
    flags = {"naive": "false", "grouped+unique": "true"}
    cfgs = {name: compose([*common, f"data.group_pairs_by_query={f}"], run_dir) for name, f in flags.items()}
    loaded = {name: batches(cfg, n) for name, cfg in cfgs.items()}
    module = entry.build_module(cfgs["naive"]).train()
    records = loaded["naive"][0].preference_records()
    module.set_reference_scores(torch.zeros(len(records), 2))  # the frozen lookup; its values do not change the cost
    data = {"naive": [one_row_per_slot(b) for b in loaded["naive"][1]], "grouped+unique": loaded["grouped+unique"][1]}
    times = compare(module, lambda b: module.preference_loss(b)["loss"], data)
    return _rows("stage 2 (RankPO)", times, {k: [b.texts_encoded for b in v[1:]] for k, v in data.items()})


def cpu_trainer() -> Any:
    """A one-device CPU trainer without logging or checkpoints (a module's steps ask it for the world size)."""
    import lightning as L

    return L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )


def _rows(stage: str, times: dict[str, list[float]], texts: dict[str, list[int]]) -> list[dict[str, Any]]:
    naive = median(times["naive"])
    return [
        {
            "stage": stage,
            "variant": name,
            "step_vs_naive": round(median(t) / naive, 3),
            "texts_per_step": round(float(np.mean(texts[name])), 1),
            "steps": len(t),
        }
        for name, t in times.items()
    ]


def run(quick: bool = False) -> dict:
    """Step-time ratios unique / naive (stage 1) and grouped+unique / naive (stage 2)."""
    settings = settings_for(quick)
    with tempfile.TemporaryDirectory(prefix="bench-unique-") as tmp:
        rows = stage1(settings, tmp) + stage2(settings, tmp)
    ratio = {r["stage"]: r["step_vs_naive"] for r in rows if r["variant"] != "naive"}
    return bench_result(
        "unique_texts",
        "Each text encoded once per step: unique-text batches vs one row per slot",
        settings,
        rows,
        [
            target("stage-2 step grouped+unique / naive", ratio["stage 2 (RankPO)"], "<=", 0.5),
            target(
                "stage-1 step unique / naive",
                ratio["stage 1 (InfoNCE)"],
                "<=",
                1.05,
                "no slower: random batches of distinct JDs share few passages (see texts_per_step)",
            ),
        ],
    )
