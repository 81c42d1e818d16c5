"""The demo's memory settings: its stage-1 step with every dropout off, and the recomputed-chunk lever
(``stage.chunk_size``) that keeps one chunk of texts' activations at a time on smaller machines."""

from __future__ import annotations

from pathlib import Path

import torch

from jobmatch.app.builders import build_module
from jobmatch.data.collate import ContrastiveBatch, pad_tokens
from jobmatch.losses import info_nce_loss
from tests.helpers import compose_config


def test_demo_trains_stage1_without_dropout(tmp_path: Path) -> None:
    """The demo's stage 1 builds its encoder with every dropout at 0 (the fused attention path) and trains in
    plain steps; a demo-sized step is then deterministic in train mode."""
    cfg = compose_config(["experiment=demo", "model=tiny_bert", "logger=none"], run_dir=tmp_path)
    assert cfg.stage.chunk_size is None
    module = build_module(cfg)
    module.train()
    dropouts = [m.p for m in module.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts and all(p == 0.0 for p in dropouts)
    config = module.encoder.backbone.config
    assert config.attention_probs_dropout_prob == 0.0 and config.hidden_dropout_prob == 0.0
    ids = torch.randint(1000, 2000, (4, 16), generator=torch.Generator().manual_seed(0)).tolist()
    batch = pad_tokens(ids, pad_id=0, side="right")
    assert torch.equal(module.embed(batch), module.embed(batch))


def test_demo_stage1_step_encodes_in_recomputed_chunks(tmp_path: Path) -> None:
    """With ``stage.chunk_size=16`` a demo-sized batch (16 JDs x (1 + 3) talents) never reaches the encoder as
    more than 16 texts in a forward that keeps activations for backward; the gradients still reach every LoRA
    weight."""
    cfg = compose_config(["experiment=demo", "model=tiny_bert", "logger=none", "stage.chunk_size=16"],
                         run_dir=tmp_path)
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
