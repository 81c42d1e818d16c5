"""Checkpoints that Lightning's DeepSpeed strategy writes are folders: every reader accepts them.

Evaluation at the end of stage 2, ``stage.init_ckpt``, resuming, ``evaluate``, ``export`` and the pipeline
all read checkpoints through :func:`jobmatch.model.checkpoint.read_checkpoint`; the folder is built here as
DeepSpeed lays it out (tests.helpers.deepspeed_layout), since deepspeed does not install on this machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import jobmatch.app.train_task as entry
from jobmatch.app.export_task import export_token_limits
from jobmatch.model.checkpoint import CheckpointError, inspect_checkpoint, read_checkpoint
from jobmatch.model.loading import load_encoder
from jobmatch.modules.rankpo import RankPOModule
from tests.helpers import FAST, FIXTURES, compose_config
from tests.helpers.deepspeed_layout import write_deepspeed_folder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def stage1(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny_llama stage-1 checkpoint as one file, and the same as a DeepSpeed folder (bf16 weights)."""
    root = tmp_path_factory.mktemp("ds")
    cfg = compose_config([*FAST, "model=tiny_llama", "data.max_query_length=48", "data.max_passage_length=64"],
                         run_dir=root / "run")
    module = entry.build_module(cfg)
    with torch.no_grad():  # a trained-looking LoRA: B != 0, so that merging changes the weights
        for name, p in module.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    checkpoint = {"epoch": 1, "global_step": 7, "state_dict": module.state_dict(),
                  "hyper_parameters": dict(module.hparams), "pytorch-lightning_version": "2.6.6"}
    (root / "run" / "checkpoints").mkdir(parents=True)
    file = root / "run" / "checkpoints" / "file.ckpt"
    torch.save(checkpoint, file)
    folder = root / "run" / "checkpoints" / "best.ckpt"
    write_deepspeed_folder(checkpoint, folder)
    return {"file": file, "folder": folder, "root": root}


def test_folder_reads_as_a_lightning_checkpoint(stage1: dict[str, Path]) -> None:
    file, folder = read_checkpoint(stage1["file"]), read_checkpoint(stage1["folder"])
    assert folder["state_dict"].keys() == file["state_dict"].keys()
    for key, value in file["state_dict"].items():
        expected = value.to(torch.bfloat16) if value.is_floating_point() else value
        assert torch.equal(folder["state_dict"][key], expected), key
    assert folder["global_step"] == 7 and folder["hyper_parameters"]["model"] == file["hyper_parameters"]["model"]
    assert not {"module", "ds_config", "param_shapes"} & folder.keys()
    info = inspect_checkpoint(stage1["folder"])
    assert info.module == "contrastive" and info.token_limits == (48, 64)


def test_encoder_export_limits_and_stage2_start_from_a_folder(stage1: dict[str, Path]) -> None:
    from_file, from_folder = load_encoder(stage1["file"]), load_encoder(stage1["folder"])
    for (name, a), b in zip(from_file.state_dict().items(), from_folder.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), rtol=1e-2, atol=1e-2), name  # bf16 copies of the same weights
    cfg = compose_config(["ckpt=null", "out=unused"], config_name="export")
    assert export_token_limits(cfg, str(stage1["folder"])) == (48, 64)
    module = RankPOModule.from_stage1(str(stage1["folder"]), dict(inspect_checkpoint(stage1["folder"]).model),
                                      optim={"lr": 1e-4}, reference="frozen")
    assert module.encoder.uses_lora and module.hparams["init_ckpt"] == str(stage1["folder"])


def test_stage2_run_from_a_folder_and_its_end_of_run_evaluation(stage1: dict[str, Path], tmp_path: Path) -> None:
    cfg = compose_config([*FAST, "model=tiny_llama", "stage=rankpo", f"stage.init_ckpt={stage1['folder']}",
                          f"data.preference_train_file={FIXTURES / 'preferences_tiny.jsonl'}",
                          f"data.test_file={FIXTURES / 'contrastive_tiny.jsonl'}", "trainer.limit_train_batches=1",
                          "eval.k=10", "eval.cutoffs=[5,10]"], run_dir=tmp_path / "run")
    datamodule = entry.build_datamodule(cfg)
    datamodule.setup("fit")
    module = entry.build_module(cfg)
    # the end-of-run evaluation reloads "the best checkpoint": here a folder, as DeepSpeed writes it
    best = tmp_path / "stage2-best.ckpt"
    write_deepspeed_folder({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, best,
                           dtype=torch.float32)
    (tmp_path / "run").mkdir()
    results = entry.evaluate_stage2(cfg, module, datamodule, str(best), tmp_path / "run")
    assert "test/ndcg@10" in results and "test/alignment" in results


def test_resume_from_a_folder_is_checked_like_a_file(stage1: dict[str, Path], tmp_path: Path) -> None:
    cfg = compose_config([*FAST, "model=tiny_llama", f"ckpt_path={stage1['folder']}",
                          "+trainer.strategy=deepspeed_stage_2"], run_dir=tmp_path / "run")
    assert entry.resolve_ckpt_path(cfg, tmp_path / "run") == str(stage1["folder"])
    other = compose_config([*FAST, "model=tiny_bert", f"ckpt_path={stage1['folder']}"], run_dir=tmp_path / "run")
    with pytest.raises(CheckpointError, match="holds another model"):
        entry.resolve_ckpt_path(other, tmp_path / "run")


def test_resume_from_a_folder_without_deepspeed_is_refused(stage1: dict[str, Path], tmp_path: Path) -> None:
    cfg = compose_config([*FAST, "model=tiny_llama", f"ckpt_path={stage1['folder']}"], run_dir=tmp_path / "run")
    with pytest.raises(CheckpointError, match="trainer=deepspeed") as error:
        entry.resolve_ckpt_path(cfg, tmp_path / "run")
    assert "\n" not in str(error.value)


def test_zero3_shards_and_foreign_folders_are_explained(stage1: dict[str, Path], tmp_path: Path) -> None:
    checkpoint = read_checkpoint(stage1["file"])
    write_deepspeed_folder(checkpoint, tmp_path / "z3.ckpt", zero_stage=3)
    with pytest.raises(CheckpointError, match=r"ZeRO-3 shards.*convert_zero_checkpoint_to_fp32_state_dict") as error:
        load_encoder(tmp_path / "z3.ckpt")
    assert "\n" not in str(error.value)
    (tmp_path / "plain").mkdir()
    with pytest.raises(CheckpointError, match="not a DeepSpeed checkpoint"):
        read_checkpoint(tmp_path / "plain")
    broken = tmp_path / "broken.ckpt"
    (broken / "checkpoint").mkdir(parents=True)
    (broken / "latest").write_text("checkpoint")
    (broken / "checkpoint" / "mp_rank_00_model_states.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="is empty"):
        read_checkpoint(broken)
