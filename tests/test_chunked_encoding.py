"""Chunked (length-sorted, recomputed) encoding: the original order, the plain loss and gradients, dropout replay."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jobmatch.app.builders import build_datamodule, build_module
from jobmatch.data.collate import ContrastiveBatch, pad_tokens
from jobmatch.losses import info_nce_loss
from jobmatch.model.chunked import encode_in_chunks, token_span
from jobmatch.modules.contrastive import ContrastiveModule
from tests.helpers.training import NO_DROPOUT, fit_steps, run_step


def row_features(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[b, 2] per-text features that ignore padding: (sum of token ids, number of tokens)."""
    mask = attention_mask.float()
    return torch.stack([(input_ids.float() * mask).sum(1), mask.sum(1)], dim=1)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 50])
def test_original_order_and_trimmed_chunks(side: str, chunk_size: int) -> None:
    """Rows come back in their input order; each chunk is at most chunk_size texts, without padding columns."""
    lengths = [5, 1, 9, 3, 3, 7, 2]
    tokens = pad_tokens([list(range(10 * i + 1, 10 * i + 1 + n)) for i, n in enumerate(lengths)], pad_id=0, side=side)
    widths: list[tuple[int, int]] = []

    def encoder(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        assert mask.any(0).all(), "a chunk kept a column of padding only"
        first = 0 if side == "right" else -1
        assert mask[:, first].all(), f"{side}-padded chunk trimmed on the wrong side"
        widths.append(tuple(mask.shape))
        return row_features(ids, mask)

    out = encode_in_chunks(encoder, tokens.input_ids, tokens.attention_mask, chunk_size)
    torch.testing.assert_close(out, row_features(tokens.input_ids, tokens.attention_mask), rtol=0, atol=0)
    assert all(rows <= chunk_size for rows, _ in widths)
    assert sum(rows for rows, _ in widths) == len(lengths)
    assert widths[0][1] == max(lengths)  # longest first: a chunk's width is its first text's length


def test_token_span() -> None:
    mask = torch.tensor([[0, 1, 1, 0], [0, 0, 1, 0]])
    assert token_span(mask) == (1, 3)
    assert token_span(torch.zeros(2, 4, dtype=torch.long)) == (0, 4)


def test_rejects_nonpositive_chunk_size() -> None:
    ids = torch.ones(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="chunk_size"):
        encode_in_chunks(row_features, ids, ids, 0)


def make_module(fast_cfg, model: str, *overrides: str) -> tuple[ContrastiveModule, ContrastiveBatch]:
    """A tiny module (full fine-tuning: every parameter's gradient is checked) and one training batch."""
    cfg = fast_cfg(f"model={model}", "model.lora.enabled=false", "data.batch_size=5", *overrides)
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    module = build_module(cfg)
    assert isinstance(module, ContrastiveModule)
    return module, batch


def loss_and_grads(module: ContrastiveModule, batch: ContrastiveBatch, seed: int = 0) -> tuple[float, dict]:
    """InfoNCE of one batch (in-batch negatives) and every trainable parameter's gradient."""
    module.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    query = module.embed(batch.query)  # [B, D]
    passages = module.embed(batch.passages)  # [B·G, D]
    loss = info_nce_loss(query, passages, temperature=module.temperature, group_size=batch.group_size)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in module.named_parameters() if p.requires_grad and p.grad is not None}
    return loss.item(), grads


def assert_same(a: tuple[float, dict], b: tuple[float, dict], grad_atol: float = 1e-5) -> None:
    """Same loss (to 1e-5) and the same gradient for every trainable parameter."""
    assert a[0] == pytest.approx(b[0], abs=1e-5)
    assert a[1].keys() == b[1].keys() and len(a[1]) > 0
    for name in a[1]:
        torch.testing.assert_close(a[1][name], b[1][name], rtol=1e-5, atol=grad_atol, msg=name)


# fp32: a gradient summed over every token of the batch (embedding rows) moves by up to ~2e-5 when only the order
# of the texts changes (measured: the plain path on the same batch permuted), so its tolerance is 5e-5. With fp64
# weights (the encoder still normalises in fp32) the same comparison holds to 1e-5.
@pytest.mark.parametrize(("dtype", "grad_atol"), [(torch.float32, 5e-5), (torch.float64, 1e-5)])
@pytest.mark.parametrize("model", ["tiny_bert", "tiny_llama"])  # right padding, absolute positions | left, rotary
@pytest.mark.parametrize("chunk_size", [3, 5, 64])  # does not divide, divides, one chunk
def test_chunked_equals_plain_loss_and_gradients(
    fast_cfg, model: str, chunk_size: int, dtype: torch.dtype, grad_atol: float
) -> None:
    """Without dropout, chunked + recomputed encoding gives the plain path's loss and every gradient."""
    module, batch = make_module(fast_cfg, model)
    assert batch.query.attention_mask.sum(1).unique().numel() > 1  # texts of several lengths: trimming happens
    module.to(dtype).eval()  # dropout off: the plain path draws masks over the whole batch, chunks cannot replay that
    plain = loss_and_grads(module, batch)
    module.chunk_size = chunk_size
    assert_same(loss_and_grads(module, batch), plain, grad_atol)


@pytest.mark.parametrize("model", ["tiny_bert", "tiny_llama"])
def test_recompute_replays_dropout(fast_cfg, model: str) -> None:
    """With dropout on, the recomputed backward uses the first forward's masks: same gradients as keeping them."""
    module, batch = make_module(
        fast_cfg, model, "+model.config.hidden_dropout_prob=0.3", "+model.config.attention_dropout=0.3"
    )
    module.train()
    module.chunk_size, module.chunk_recompute = 4, False
    kept = loss_and_grads(module, batch, seed=1)
    module.chunk_recompute = True
    assert_same(loss_and_grads(module, batch, seed=1), kept)
    module.chunk_size = None  # different masks (drawn over the whole batch): a sanity check that dropout is on
    assert loss_and_grads(module, batch, seed=1)[0] != pytest.approx(kept[0], abs=1e-5)


def test_training_with_chunks(fast_cfg) -> None:
    """stage.chunk_size reaches the module; a LoRA run trains the adapter as usual."""
    cfg = fast_cfg("stage.chunk_size=3", "stage.optim.lr=1e-2", "stage.optim.warmup_ratio=0")
    before, after, module = fit_steps(cfg, steps=2)
    assert module.chunk_size == 3 and module.chunk_recompute
    trainable = {n for n, p in module.encoder.named_parameters() if p.requires_grad}
    assert all(torch.equal(before[n], after[n]) != (n in trainable) for n in before)


def test_rejects_bad_chunk_size(fast_cfg) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        build_module(fast_cfg("stage.chunk_size=0"))


@pytest.mark.slow
def test_ddp_chunked_equals_single_process_plain(fast_cfg, tmp_path: Path) -> None:
    """Cross-device negatives with recomputed chunks on 2 processes: the plain single-process step's loss and grads."""
    common = [*NO_DROPOUT, "model.lora.dropout=0.0"]
    run_step(fast_cfg(*common, "data.batch_size=2", "stage.chunk_size=3"), tmp_path / "ddp", devices=2)
    run_step(fast_cfg(*common, "data.batch_size=4"), tmp_path / "single", devices=1)
    ddp_loss = (torch.load(tmp_path / "ddp" / "loss0.pt") + torch.load(tmp_path / "ddp" / "loss1.pt")) / 2
    assert ddp_loss.item() == pytest.approx(torch.load(tmp_path / "single" / "loss0.pt").item(), abs=1e-5)
    ddp_grads, single_grads = torch.load(tmp_path / "ddp" / "grads.pt"), torch.load(tmp_path / "single" / "grads.pt")
    assert ddp_grads.keys() == single_grads.keys() and ddp_grads
    for name, grad in single_grads.items():
        torch.testing.assert_close(ddp_grads[name], grad, rtol=1e-4, atol=1e-5, msg=name)
