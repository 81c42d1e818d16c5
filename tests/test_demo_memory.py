"""The demo's stage-1 step keeps the activations of one chunk of texts at a time (its peak-memory lever)."""

from __future__ import annotations

from pathlib import Path

import torch

from jobmatch.app.builders import build_module
from jobmatch.data.collate import ContrastiveBatch, pad_tokens
from jobmatch.losses import info_nce_loss
from tests.helpers import compose_config


def test_demo_stage1_step_encodes_in_recomputed_chunks(tmp_path: Path) -> None:
    """A demo-sized batch (16 JDs x (1 + 3) talents) never reaches the encoder as more than
    ``stage.chunk_size`` texts in a forward that keeps activations for backward; the gradients still reach
    every LoRA weight."""
    cfg = compose_config(["experiment=demo", "model=tiny_bert", "logger=none"], run_dir=tmp_path)
    chunk = cfg.stage.chunk_size
    assert chunk is not None and cfg.stage.chunk_recompute
    batch_jds, group = int(cfg.data.batch_size), 1 + int(cfg.data.n_negatives)
    assert chunk < batch_jds * group
    module = build_module(cfg)
    module.train()
    gen = torch.Generator().manual_seed(0)

    def texts(n: int, length: int) -> object:
        ids = [torch.randint(1000, 2000, (length,), generator=gen).tolist() for _ in range(n)]
        return pad_tokens(ids, pad_id=0, side="right")

    batch = ContrastiveBatch(query=texts(batch_jds, 24), passages=texts(batch_jds * group, 40), group_size=group)
    sizes: list[int] = []  # texts per forward whose activations are kept (grad on, not the recompute pass)
    hook = module.encoder.register_forward_pre_hook(
        lambda _, args: sizes.append(len(args[0])) if torch.is_grad_enabled() else None
    )
    query, passages = module.embed(batch.query), module.embed(batch.passages)  # as contrastive_loss encodes
    loss = info_nce_loss(query, passages, temperature=module.temperature, group_size=group)
    forwards = len(sizes)
    loss.backward()
    hook.remove()
    assert max(sizes) <= chunk
    assert len(sizes) == 2 * forwards  # backward recomputed every chunk: nothing was kept from the first pass
    trainable = [p for p in module.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None for p in trainable)
