"""model.compile: the encoder compiled in place gives the eager loss and gradients, and keeps its checkpoints."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from jobmatch.app.builders import build_datamodule, build_module
from jobmatch.app.validation import validate_config
from jobmatch.errors import ConfigError
from jobmatch.losses import info_nce_loss
from jobmatch.model.encoder import compile_encoder
from tests.helpers.config import compose_config


def module_and_batch(cfg):
    """A tiny stage-1 module in eval mode (no dropout: compiled and eager draw masks differently) and a batch."""
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    return build_module(cfg).eval(), batch


def loss_and_grads(module, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """InfoNCE of one batch and the gradient of every trainable parameter."""
    module.zero_grad(set_to_none=True)
    loss = info_nce_loss(
        module.embed(batch.query), module.embed(batch.passages), temperature=module.temperature,
        group_size=batch.group_size,
    )
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


def test_compile_off_and_bad_modes() -> None:
    """null keeps the encoder eager; an unknown mode is refused by the encoder and by validate_config."""
    encoder = torch.nn.Linear(2, 2)
    assert compile_encoder(encoder, None) is False
    assert getattr(encoder, "_compiled_call_impl", None) is None
    with pytest.raises(ValueError, match=r"^compile=fast: expected null \(eager\) or one of default"):
        compile_encoder(encoder, "fast")  # the library names its argument
    with pytest.raises(ConfigError, match=r"^model\.compile=fast: expected one of default"):
        validate_config(compose_config(["model.compile=fast"]))
    validate_config(compose_config(["model.compile=max-autotune"]))


@pytest.mark.slow
def test_compiled_equals_eager(fast_cfg) -> None:
    """Same loss and every LoRA gradient in fp32 (inductor fuses ops: tolerance 1e-5); same state-dict keys."""
    module, batch = module_and_batch(fast_cfg())
    keys = list(module.state_dict())
    eager = loss_and_grads(module, batch)
    assert compile_encoder(module.encoder, "default")
    compiled = loss_and_grads(module, batch)
    assert module.encoder._compiled_call_impl is not None
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-5, atol=1e-5)
    assert compiled[1].keys() == eager[1].keys() and len(eager[1]) > 0
    for name, grad in eager[1].items():
        torch.testing.assert_close(compiled[1][name], grad, rtol=1e-4, atol=1e-5, msg=name)
    assert list(module.state_dict()) == keys  # in place: no _orig_mod prefix in checkpoints


@pytest.mark.slow
def test_training_compiles_through_configure_model(fast_cfg) -> None:
    """A fit with model.compile=default compiles the encoder (Lightning's configure_model) and trains it."""
    cfg = fast_cfg("model.compile=default", "stage.optim.lr=1e-2", "stage.optim.warmup_ratio=0")
    module = build_module(cfg)
    before = {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(module, datamodule=build_datamodule(cfg))
    assert module.encoder._compiled_call_impl is not None
    assert any(not torch.equal(p, before[n]) for n, p in module.named_parameters() if n in before)
