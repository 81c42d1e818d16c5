"""Checkpoints verified before use (a flipped bit is refused in one line) and written atomically beside
their destination (a failed write never replaces a good ``last.ckpt``)."""

from __future__ import annotations

import errno
import os
import zipfile
from pathlib import Path

import pytest
import torch

import jobmatch.app.train_task as entry
import jobmatch.model.checkpoint_io as checkpoint_io
from jobmatch.app.evaluate_task import evaluate
from jobmatch.app.export_task import export
from jobmatch.errors import UserError
from jobmatch.model.checkpoint import CheckpointError, read_checkpoint
from jobmatch.model.checkpoint_io import AtomicCheckpointIO
from jobmatch.utils.atomic import TEMP_SUFFIX, WriteError
from tests.helpers import FAST, cfg_for, compose_config
from tests.helpers.deepspeed_layout import write_deepspeed_folder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stage-1 tiny_bert checkpoint as Lightning writes one (state_dict + hyper_parameters)."""
    root = tmp_path_factory.mktemp("integrity")
    module = entry.build_module(compose_config(FAST, run_dir=root / "run"))
    path = root / "good.ckpt"
    torch.save({"epoch": 0, "global_step": 0, "state_dict": module.state_dict(),
                "hyper_parameters": dict(module.hparams)}, path)
    return path


def flip_bit(source: Path, target: Path) -> Path:
    """A copy of ``source`` with one bit flipped in the middle of its largest record (a weight tensor)."""
    with zipfile.ZipFile(source) as archive:
        record = max(archive.infolist(), key=lambda info: info.compress_size)
    data = bytearray(source.read_bytes())
    name_len, extra_len = (int.from_bytes(data[record.header_offset + i:record.header_offset + i + 2], "little")
                           for i in (26, 28))
    start = record.header_offset + 30 + name_len + extra_len
    data[start + record.compress_size // 2] ^= 0x40
    target.write_bytes(bytes(data))
    return target


@pytest.fixture
def flipped(good: Path, tmp_path: Path) -> Path:
    return flip_bit(good, tmp_path / "flipped.ckpt")


def assert_names_corruption(error: pytest.ExceptionInfo[BaseException], path: Path) -> None:
    message = str(error.value)
    assert isinstance(error.value, CheckpointError) and "\n" not in message
    assert message.startswith(f"{path}: is corrupt") and "CRC-32" in message


def test_flipped_bit_loads_without_a_check_in_torch(flipped: Path) -> None:
    """The premise: torch.load itself reads the damaged weights without complaint."""
    assert isinstance(torch.load(flipped, weights_only=True, map_location="cpu"), dict)


def test_read_checkpoint_refuses_a_flipped_bit(good: Path, flipped: Path) -> None:
    assert "state_dict" in read_checkpoint(good)
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(flipped, mmap=True)
    assert_names_corruption(error, flipped)


def test_resume_refuses_a_flipped_bit(fast_cfg, flipped: Path) -> None:
    with pytest.raises(CheckpointError) as error:
        entry.train(fast_cfg(f"ckpt_path={flipped}"))
    assert_names_corruption(error, flipped)


def test_auto_resume_refuses_a_flipped_last_ckpt(fast_cfg, good: Path) -> None:
    cfg = fast_cfg()
    last = Path(cfg.paths.run_dir) / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    flip_bit(good, last)
    with pytest.raises(CheckpointError) as error:
        entry.train(cfg)
    assert_names_corruption(error, last)
    assert f"rm {last}" in str(error.value)


def test_stage2_init_refuses_a_flipped_bit(fast_cfg, flipped: Path) -> None:
    with pytest.raises(CheckpointError) as error:
        entry.train(fast_cfg("stage=sft", f"stage.init_ckpt={flipped}"))
    assert_names_corruption(error, flipped)


def test_evaluate_refuses_a_flipped_bit(tmp_path: Path, flipped: Path) -> None:
    with pytest.raises(CheckpointError) as error:
        evaluate(cfg_for("evaluate", tmp_path, f"ckpt={flipped}", "eval.baselines=[]"))
    assert_names_corruption(error, flipped)


def test_export_refuses_a_flipped_bit(tmp_path: Path, flipped: Path) -> None:
    with pytest.raises(CheckpointError) as error:
        export(compose_config(["model=tiny_bert", f"ckpt={flipped}", f"out={tmp_path / 'export'}"], tmp_path / "run",
                              "export"))
    assert_names_corruption(error, flipped)
    assert not (tmp_path / "export").exists()


def test_deepspeed_folder_with_a_flipped_bit(good: Path, tmp_path: Path) -> None:
    folder = tmp_path / "best.ckpt"
    write_deepspeed_folder(torch.load(good, weights_only=True), folder)
    assert "state_dict" in read_checkpoint(folder)
    states = folder / "checkpoint" / "mp_rank_00_model_states.pt"
    flip_bit(states, states)
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(folder)
    assert_names_corruption(error, states)


# --- atomic writes -----------------------------------------------------------------------------------


def test_checkpoint_written_beside_its_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def record(src: str, dst: str) -> None:
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", record)
    target = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(3)}}, target)
    assert [(src.parent, dst) for src, dst in renames] == [(target.parent, target)]
    assert torch.equal(read_checkpoint(target)["state_dict"]["w"], torch.ones(3))
    assert sorted(p.name for p in target.parent.iterdir()) == ["last.ckpt"]


def test_full_disk_during_training_keeps_the_good_last_ckpt(fast_cfg, monkeypatch: pytest.MonkeyPatch) -> None:
    """Epoch 0's checkpoints are written; every save of epoch 1 runs out of space half-way through."""
    cfg = fast_cfg("trainer.max_epochs=2")
    last = Path(cfg.paths.run_dir) / "checkpoints" / "last.ckpt"
    saves = {"n": 0, "good": b""}
    real_save = torch.save

    def save(obj: object, handle) -> None:
        saves["n"] += 1
        if saves["n"] > 2:  # best.ckpt and last.ckpt of epoch 0 went through
            saves["good"] = saves["good"] or last.read_bytes()
            handle.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_save(obj, handle)

    monkeypatch.setattr(checkpoint_io.torch, "save", save)
    with pytest.raises(WriteError) as error:
        entry.train(cfg)
    message = str(error.value)
    assert isinstance(error.value, UserError) and "\n" not in message
    assert "No space left on device" in message and "intact" in message and "free space" in message
    assert last.read_bytes() == saves["good"]
    assert read_checkpoint(last)["epoch"] == 0
    assert not list(last.parent.glob(f"*{TEMP_SUFFIX}"))


def test_evaluate_refuses_a_checkpoint_of_another_model(tmp_path: Path, good: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny_bert checkpoint evaluated under model=tiny_llama: one line before any data loads."""
    import jobmatch.app.evaluate_task as evaluate_task

    monkeypatch.setattr(evaluate_task, "build_datamodule", lambda *_: pytest.fail("data loaded before the refusal"))
    with pytest.raises(CheckpointError, match=r"ckpt holds another model .*model\.config\.model_type") as error:
        evaluate(cfg_for("evaluate", tmp_path, f"ckpt={good}", "model=tiny_llama"))
    assert "\n" not in str(error.value) and str(error.value).startswith(str(good))
    assert not (tmp_path / "run" / "config.yaml").exists()
