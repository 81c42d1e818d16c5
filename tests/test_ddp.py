"""Cross-device negatives: a 2-process DDP step (gloo, CPU) equals one process on the whole batch."""

from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from jobmatch.app.builders import build_datamodule, build_module

NO_DROPOUT = ["+model.config.hidden_dropout_prob=0.0", "+model.config.attention_probs_dropout_prob=0.0"]


class CaptureStep(Callback):
    """Saves the first step's loss (per rank) and the synchronised gradients (rank 0)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        torch.save(outputs["loss"].detach(), self.out_dir / f"loss{trainer.global_rank}.pt")

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_rank == 0:
            grads = {n: p.grad.detach().clone() for n, p in pl_module.named_parameters() if p.grad is not None}
            torch.save(grads, self.out_dir / "grads.pt")


def run_step(cfg, out_dir: Path, devices: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(0)
    module = build_module(cfg)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy="ddp_spawn" if devices > 1 else "auto",
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[CaptureStep(out_dir)],
    )
    trainer.fit(module, datamodule=build_datamodule(cfg))


@pytest.mark.slow
@pytest.mark.parametrize("in_batch", [True, False])
def test_ddp_gather_equals_single_process(fast_cfg, tmp_path: Path, in_batch: bool) -> None:
    common = [*NO_DROPOUT, "model.lora.dropout=0.0", f"stage.in_batch_negatives={in_batch}"]
    run_step(fast_cfg(*common, "data.batch_size=2"), tmp_path / "ddp", devices=2)
    run_step(fast_cfg(*common, "data.batch_size=4"), tmp_path / "single", devices=1)

    ddp_loss = (torch.load(tmp_path / "ddp" / "loss0.pt") + torch.load(tmp_path / "ddp" / "loss1.pt")) / 2
    single_loss = torch.load(tmp_path / "single" / "loss0.pt")
    assert ddp_loss.item() == pytest.approx(single_loss.item(), abs=1e-5)

    ddp_grads = torch.load(tmp_path / "ddp" / "grads.pt")
    single_grads = torch.load(tmp_path / "single" / "grads.pt")
    assert ddp_grads.keys() == single_grads.keys() and ddp_grads
    for name, grad in single_grads.items():
        assert torch.allclose(ddp_grads[name], grad, atol=1e-5, rtol=1e-4), name
