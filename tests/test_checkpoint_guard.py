"""Checkpoints of another stage or model, unreadable checkpoints, last.ckpt freshness, unwritable folders."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

import jobmatch.app.train_task as entry
from jobmatch.app.callbacks import last_checkpoints
from jobmatch.app.train_task import train
from jobmatch.errors import ConfigError, UserError
from jobmatch.model.checkpoint import CheckpointError, read_checkpoint
from jobmatch.model.loading import load_encoder
from tests.helpers import FAST, FIXTURES, compose_config

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one intra-op thread (conftest)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Checkpoints as Lightning writes them (``state_dict`` + ``hyper_parameters``) of freshly built
    modules: stage 1 of tiny_bert and tiny_llama, stage 2 (SFT) started from the tiny_bert one."""
    root = tmp_path_factory.mktemp("ckpts")
    out = {}

    def save(name: str, module: L.LightningModule) -> None:
        out[name] = root / f"{name}.ckpt"
        torch.save(
            {"epoch": 0, "global_step": 0, "state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)},
            out[name],
        )

    for model in ("tiny_bert", "tiny_llama"):
        save(model, entry.build_module(compose_config([*FAST, f"model={model}"], run_dir=root / model)))
    stage2 = [*FAST, "stage=sft", f"stage.init_ckpt={out['tiny_bert']}"]
    save("stage2", entry.build_module(compose_config(stage2, run_dir=root / "stage2")))
    return out


@pytest.fixture
def nothing_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if training gets as far as building the data (the refusal must come first)."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the data and model were loaded before the refusal")

    monkeypatch.setattr(entry, "build_datamodule", refuse)


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message and isinstance(error.value, UserError)
    return message


# --- another stage or model -------------------------------------------------------------------------


def test_stage2_checkpoint_refused_by_stage1(fast_cfg, ckpts: dict[str, Path], nothing_loads: None) -> None:
    with pytest.raises(CheckpointError) as error:
        train(fast_cfg(f"ckpt_path={ckpts['stage2']}"))
    message = one_line(error)
    assert message.startswith(f"{ckpts['stage2']}: ckpt_path=")
    assert "stage 2" in message and "stage 1" in message and "stage=contrastive" in message


def test_stage1_checkpoint_as_stage2_resume_points_to_init_ckpt(fast_cfg, ckpts: dict[str, Path]) -> None:
    cfg = fast_cfg(
        "stage=sft",
        f"stage.init_ckpt={ckpts['tiny_bert']}",
        f"ckpt_path={ckpts['tiny_bert']}",
        f"data.preference_train_file={FIXTURES / 'preferences_tiny.jsonl'}",
    )
    with pytest.raises(CheckpointError, match=r"pass it as stage\.init_ckpt instead"):
        entry.resolve_ckpt_path(cfg, Path(cfg.paths.run_dir))


def test_llama_checkpoint_refused_by_bert_run(fast_cfg, ckpts: dict[str, Path], nothing_loads: None) -> None:
    with pytest.raises(CheckpointError) as error:
        train(fast_cfg(f"ckpt_path={ckpts['tiny_llama']}"))
    message = one_line(error)
    assert message.startswith(f"{ckpts['tiny_llama']}: ") and "another model" in message
    assert "model.config.model_type: 'llama' vs 'bert'" in message


def test_stage1_init_ckpt_of_another_model_refused(fast_cfg, ckpts: dict[str, Path], nothing_loads: None) -> None:
    with pytest.raises(CheckpointError) as error:
        train(fast_cfg(f"stage.init_ckpt={ckpts['tiny_llama']}"))
    assert "stage.init_ckpt holds another model" in one_line(error)


def test_unreadable_stage2_init_ckpt_refused(fast_cfg, tmp_path: Path, nothing_loads: None) -> None:
    empty = tmp_path / "stage1.ckpt"
    empty.touch()
    with pytest.raises(CheckpointError) as error:
        train(fast_cfg("stage=sft", f"stage.init_ckpt={empty}"))
    assert one_line(error).startswith(f"{empty}: is empty") and "fix: set stage.init_ckpt" in str(error.value)


def test_matching_checkpoint_is_accepted(fast_cfg, ckpts: dict[str, Path]) -> None:
    cfg = fast_cfg(f"ckpt_path={ckpts['tiny_bert']}")
    assert entry.resolve_ckpt_path(cfg, Path(cfg.paths.run_dir)) == str(ckpts["tiny_bert"])


# --- unreadable files ---------------------------------------------------------------------------------


class Payload:
    """Any class: a pickle of it is what ``weights_only=True`` refuses."""


def write_object_checkpoint(path: Path) -> None:
    torch.save({"state_dict": Payload()}, path)  # torch's zip format, but a class inside


@pytest.mark.parametrize(
    ("write", "problem"),
    [
        (lambda path: path.write_bytes(b""), "is empty"),
        (lambda path: path.write_bytes(b"not a checkpoint at all\n" * 20), "is not a PyTorch checkpoint"),
        (lambda path: path.write_bytes(pickle.dumps({"state_dict": Payload()})), "does not unpickle them"),
        (write_object_checkpoint, "does not unpickle them"),
    ],
    ids=["empty", "garbage", "pickled-object", "saved-object"],
)
def test_unreadable_checkpoint_explained(tmp_path: Path, write: Callable[[Path], object], problem: str) -> None:
    path = tmp_path / "model.ckpt"
    write(path)
    for read in (read_checkpoint, load_encoder):
        with pytest.raises(CheckpointError) as error:
            read(path)
        message = one_line(error)
        assert message.startswith(f"{path}: ") and problem in message and "; fix: " in message
        assert "weights_only=False" not in message


def test_truncated_last_ckpt_on_auto_resume(fast_cfg, ckpts: dict[str, Path], nothing_loads: None) -> None:
    cfg = fast_cfg()
    last = Path(cfg.paths.run_dir) / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    data = ckpts["tiny_bert"].read_bytes()
    last.write_bytes(data[: len(data) // 2])  # a save killed half-way
    with pytest.raises(CheckpointError) as error:
        train(cfg)
    message = one_line(error)
    assert message.startswith(f"{last}: is truncated")
    assert f"rm {last}" in message and "ckpt_path" in message


def test_missing_ckpt_path(fast_cfg, tmp_path: Path) -> None:
    cfg = fast_cfg(f"ckpt_path={tmp_path / 'nope.ckpt'}")
    with pytest.raises(FileNotFoundError, match=r"nope\.ckpt: ckpt_path=.* names no file; fix: "):
        entry.resolve_ckpt_path(cfg, Path(cfg.paths.run_dir))


# --- last.ckpt ----------------------------------------------------------------------------------------


def test_last_ckpt_holds_the_final_epoch_when_the_monitor_stalls(fast_cfg) -> None:
    cfg = fast_cfg("trainer.max_epochs=3", "stage.optim.lr=1e-30")  # updates below fp32 resolution: no improvement
    train(cfg)
    folder = Path(cfg.paths.run_dir) / "checkpoints"
    assert read_checkpoint(folder / "best.ckpt", mmap=True)["epoch"] == 0
    assert read_checkpoint(folder / "last.ckpt", mmap=True)["epoch"] == 2


class StopAtStep(Callback):
    """Simulates a kill in the middle of an epoch."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == 2:
            raise RuntimeError("simulated kill")


def test_last_ckpt_every_n_steps(fast_cfg, monkeypatch: pytest.MonkeyPatch) -> None:
    original = entry.build_callbacks
    monkeypatch.setattr(entry, "build_callbacks", lambda *a, **k: [*original(*a, **k), StopAtStep()])
    cfg = fast_cfg("checkpoint.every_n_steps=1")
    with pytest.raises(RuntimeError, match="simulated kill"):
        train(cfg)
    last = read_checkpoint(Path(cfg.paths.run_dir) / "checkpoints" / "last.ckpt", mmap=True)
    assert (last["epoch"], last["global_step"]) == (0, 2)


def test_every_n_steps_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"^checkpoint\.every_n_steps=-1: "):
        last_checkpoints(Path("unused"), -1)


# --- unwritable folders -------------------------------------------------------------------------------


def test_unwritable_cache_dir_refused_before_loading(fast_cfg, tmp_path: Path, nothing_loads: None) -> None:
    blocker = tmp_path / "file.txt"  # a folder below a regular file cannot be created, not even by root
    blocker.write_text("in the way")
    with pytest.raises(ConfigError) as error:
        train(fast_cfg(f"paths.cache_dir={blocker / 'sub'}"))
    message = one_line(error)
    assert message.startswith(f"paths.cache_dir={blocker / 'sub'}: not a writable folder")


def test_unwritable_synthetic_data_dir_refused(fast_cfg, tmp_path: Path, nothing_loads: None) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("in the way")
    with pytest.raises(ConfigError, match=r"^paths\.data_dir=.*file\.txt/data: not a writable folder"):
        train(fast_cfg("data=synthetic_small", f"paths.data_dir={blocker / 'data'}"))


def test_writable_check_leaves_no_files(fast_cfg) -> None:
    cfg = fast_cfg()
    run_dir = Path(cfg.paths.run_dir)
    run_dir.mkdir(parents=True)
    entry.check_before_loading(cfg, run_dir)
    assert list(run_dir.iterdir()) == [] and list(Path(cfg.paths.cache_dir).iterdir()) == []
