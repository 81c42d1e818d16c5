"""Chunked (GradCache-style) InfoNCE: peak memory at 8x the batch, and the step-time cost of recomputing.

One stage-1 training step (forward, InfoNCE with in-batch negatives, backward, AdamW step) of
``model=minilm`` + LoRA under ``torch.autocast("cpu", torch.bfloat16)``, on token batches of random
ids whose lengths are drawn uniformly from [32, 128] (seeded; the same draws for every contender).
Memory: every contender runs in its own process; its peak RSS is reported next to its RSS once the
model and batch are loaded, so that the part that grows with the batch is visible:

- base batch B plain: 8 JDs x (1 positive + 3 negatives) = 8 query and 32 passage texts;
- 8B chunked: 64 JDs x 4 = 64 + 256 texts, ``stage.chunk_size=32`` (the base batch's largest forward);
- 2B plain, for context (full run only, and only when the machine has the memory free: plain
  activations grow linearly, so 8B plain, about 8x B's activations, does not fit next to other work).

Time: one process alternates plain, chunked with recompute and chunked without recompute (length
sorting and trimming only) at the base batch, chunks of 8 texts; medians over repetitions.

    .venv/bin/python -m experiments.benchmarks chunked_memory
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch

from experiments.benchmarks.common import alternate, bench_result, median, rss_mb, run_isolated, target

GROUP = 4  # passages per JD: 1 positive + 3 negatives
MIN_LENGTH = 32


def settings_for(quick: bool) -> dict[str, Any]:
    """The benchmark's settings (full or quick)."""
    if quick:
        return {
            "model": "tiny_bert",
            "queries": 2,
            "max_length": 64,
            "memory_chunk": 8,
            "time_chunk": 2,
            "repetitions": 1,
            "warmup": 0,
            "plain_context": 0,
        }
    return {
        "model": "minilm",
        "queries": 8,
        "max_length": 128,
        "memory_chunk": 32,
        "time_chunk": 8,
        "repetitions": 3,
        "warmup": 1,
        "plain_context": 2,
    }


def build(model: str, queries: int, max_length: int, seed: int = 0) -> tuple[Any, Any]:
    """The stage-1 module of ``model`` (LoRA, train mode) and a seeded batch of ``queries`` JDs x GROUP passages."""
    from jobmatch.app.builders import build_module
    from jobmatch.app.config_tree import compose_tree
    from jobmatch.data.collate import ContrastiveBatch, pad_tokens

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cfg = compose_tree("train", [f"model={model}", "stage=contrastive", "logger=none"])
    module = build_module(cfg)
    module.train()
    gen = torch.Generator().manual_seed(seed)
    vocab = module.encoder.tokenizer.vocab_size
    pad = module.encoder.tokenizer.pad_token_id

    def texts(n: int) -> Any:
        lengths = torch.randint(min(MIN_LENGTH, max_length), max_length + 1, (n,), generator=gen)
        ids = [torch.randint(1000, vocab, (int(k),), generator=gen).tolist() for k in lengths]
        return pad_tokens(ids, pad_id=pad, side=module.encoder.tokenizer.padding_side)

    return module, ContrastiveBatch(query=texts(queries), passages=texts(queries * GROUP), group_size=GROUP)


def train_step(module: Any, batch: Any, optimizer: torch.optim.Optimizer) -> float:
    """One step (bf16 autocast forward, InfoNCE, backward, AdamW); returns its loss."""
    from jobmatch.losses import info_nce_loss

    with torch.autocast("cpu", dtype=torch.bfloat16):
        query = module.embed(batch.query)  # [B, D]
        passages = module.embed(batch.passages)  # [B·G, D]
        loss = info_nce_loss(query, passages, temperature=module.temperature, group_size=batch.group_size)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss)


def optimizer_of(module: Any) -> torch.optim.Optimizer:
    return torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-5)


def measure_memory(model: str, queries: int, max_length: int, chunk_size: int | None) -> dict[str, Any]:
    """Child process: one training step; RSS after loading the model and the batch, and the step's time."""
    torch.manual_seed(0)
    module, batch = build(model, queries, max_length)
    module.chunk_size = chunk_size
    loaded = rss_mb()
    start = time.perf_counter()
    loss = train_step(module, batch, optimizer_of(module))
    return {
        "rss_loaded_mb": loaded,
        "step_s": time.perf_counter() - start,
        "loss": loss,
        "padding": 1 - float(batch.passages.attention_mask.float().mean()),
    }


def measure_time(model: str, queries: int, max_length: int, chunk: int, repetitions: int, warmup: int) -> dict:
    """Alternate plain, chunked (recompute) and chunked (sort and trim only) steps on one module and batch."""
    torch.manual_seed(0)
    module, batch = build(model, queries, max_length)
    optimizer = optimizer_of(module)

    def step(chunk_size: int | None, recompute: bool) -> None:
        module.chunk_size, module.chunk_recompute = chunk_size, recompute
        train_step(module, batch, optimizer)

    return alternate(
        {"plain": lambda: step(None, True), "chunked": lambda: step(chunk, True), "sorted": lambda: step(chunk, False)},
        repetitions=repetitions,
        warmup=warmup,
    )


def available_mb() -> float:
    """MemAvailable of this machine, in MiB (Linux; infinite elsewhere)."""
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("MemAvailable"))
    except (OSError, StopIteration):
        return float("inf")


def memory_row(label: str, s: dict[str, Any], queries: int, chunk: int | None) -> dict[str, Any]:
    """One contender's memory row, measured in its own process."""
    kwargs = {"model": s["model"], "queries": queries, "max_length": s["max_length"], "chunk_size": chunk}
    out = run_isolated(__name__, "measure_memory", kwargs)
    return {
        "contender": label,
        "texts": queries * (1 + GROUP),
        "chunk_size": chunk,
        "rss_loaded_mb": round(out["rss_loaded_mb"]),
        "peak_rss_mb": round(out["peak_rss_mb"]),
        "activation_mb": round(out["peak_rss_mb"] - out["rss_loaded_mb"]),
        "step_s": round(out["step_s"], 2),
        "time_vs_plain": None,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Peak memory of B plain, 8B chunked (and a larger plain batch) in separate processes; step times at B."""
    s = settings_for(quick)
    b = s["queries"]
    rows = [memory_row("B plain", s, b, None), memory_row("8B chunked", s, 8 * b, s["memory_chunk"])]
    k = s["plain_context"]
    # A plain batch k times larger needs about k times B's activations: run it only where that leaves room.
    if k and available_mb() > 1.5 * k * rows[0]["activation_mb"] + rows[0]["rss_loaded_mb"]:
        rows.append(memory_row(f"{k}B plain", s, k * b, None))
    base, chunked = rows[0]["peak_rss_mb"], rows[1]["peak_rss_mb"]
    times = measure_time(s["model"], b, s["max_length"], s["time_chunk"], s["repetitions"], s["warmup"])
    plain_s = median(times["plain"])
    for name in ("plain", "chunked", "sorted"):
        rows.append(
            {
                "contender": f"B {name} (time)",
                "texts": b * (1 + GROUP),
                "chunk_size": None if name == "plain" else s["time_chunk"],
                "rss_loaded_mb": None,
                "peak_rss_mb": None,
                "activation_mb": None,
                "step_s": round(median(times[name]), 3),
                "time_vs_plain": round(median(times[name]) / plain_s, 3),
            }
        )
    targets = [
        target(
            "peak RSS 8B chunked / B plain",
            chunked / base,
            "<=",
            1.3,
            f"{base} -> {chunked} MiB; chunks of {s['memory_chunk']} texts",
        ),
    ]
    settings = {
        **s,
        "batch": f"{b} JDs x (1+{GROUP - 1}) talents (B), 8B = {8 * b} JDs; in-batch negatives",
        "lengths": f"uniform [{MIN_LENGTH}, {s['max_length']}] tokens, random ids, seeded",
        "precision": "bf16 autocast (CPU), fp32 weights",
        "lora": "conf/model defaults: r=8, alpha=16, dropout 0.05 (minilm); r=4 (tiny_bert)",
        "step": "forward + InfoNCE + backward + AdamW",
        "threads": torch.get_num_threads(),
    }
    return bench_result(
        "chunked_memory", "Chunked InfoNCE: memory at 8x batch, cost of recomputation", settings, rows, targets
    )
