"""Cross-device negatives: a 2-process DDP step (gloo, CPU) equals one process on the whole batch."""

from pathlib import Path

import pytest
import torch

from tests.helpers.training import NO_DROPOUT, run_step


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
