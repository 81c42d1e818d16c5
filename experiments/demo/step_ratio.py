"""Side-by-side stage-1 step cost of the demo under two model settings (e.g. dropout on and off).

Both modules are built from the demo's config (``experiment=demo``) plus each one's overrides, and
train in turn (A B A B ...) on the same real demo batches, bf16 autocast where the demo uses it.
Per step it records wall seconds and the process's CPU seconds (``time.process_time``: on a machine
shared with other jobs the CPU seconds are the steadier figure), and reports medians and their ratio.

    python -m experiments.demo.step_ratio --a "" --b "model.lora.dropout=0 model.attention_dropout=0 \
        model.hidden_dropout=0" --common "stage.chunk_size=16" --steps 4 --warmup 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir

CONF = Path(__file__).resolve().parents[2] / "conf"


def build(overrides: list[str], run_dir: str) -> tuple[Any, Any, bool]:
    """(module in train mode, its DataModule set up for fit, whether training autocasts to bf16)."""
    from jobmatch.app.builders import build_datamodule, build_module

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train",
                      overrides=["experiment=demo", "logger=none", f"paths.run_dir={run_dir}", *overrides])
    torch.manual_seed(int(cfg.seed))
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    module = build_module(cfg)
    module.train()
    return module, datamodule, str(cfg.trainer.precision).startswith("bf16")


def step(module: Any, batch: Any, optimizer: torch.optim.Optimizer, bf16: bool) -> tuple[float, float]:
    """One training step (forward, InfoNCE without the false-negative mask, backward, AdamW):
    (wall seconds, CPU seconds)."""
    from jobmatch.losses import info_nce_loss

    wall, cpu = time.perf_counter(), time.process_time()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        query = module.embed(batch.query)  # [B, D]
        passages = module.embed(batch.passages)[batch.slots]  # [U, D] -> [B·G, D]
        loss = info_nce_loss(query, passages, temperature=module.temperature, group_size=batch.group_size)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", default="", help="overrides of contender A (space-separated)")
    parser.add_argument("--b", default="", help="overrides of contender B")
    parser.add_argument("--common", default="", help="overrides of both")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--run-dir", default="/tmp/step_ratio")
    args = parser.parse_args()
    common = args.common.split()
    contenders = {name: build([*common, *extra.split()], args.run_dir)
                  for name, extra in (("a", args.a), ("b", args.b))}
    optimizers = {name: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-5)
                  for name, (m, _, _) in contenders.items()}
    batches = iter(contenders["a"][1].train_dataloader())  # the same batches for both
    samples: dict[str, list[tuple[float, float]]] = {"a": [], "b": []}
    for i in range(args.warmup + args.steps):
        batch = next(batches)
        for name, (module, _, bf16) in contenders.items():
            measured = step(module, batch, optimizers[name], bf16)
            if i >= args.warmup:
                samples[name].append(measured)
    out: dict[str, Any] = {"a": args.a, "b": args.b, "common": args.common, "steps": args.steps}
    for k, label in ((0, "wall_s"), (1, "cpu_s")):
        medians = {name: statistics.median(s[k] for s in samples[name]) for name in samples}
        out[label] = {name: [round(s[k], 2) for s in samples[name]] for name in samples}
        out[f"{label}_median_ratio_b_over_a"] = round(medians["b"] / medians["a"], 3)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
