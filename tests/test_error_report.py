"""Every entry point ends a user error in one ``error:`` line (status 2) and a bug in one traceback (status 1)."""

import os
import subprocess
import sys
from pathlib import Path

import hydra
import pytest
from omegaconf import DictConfig

from jobmatch.app.run_dir import task_wrapper
from jobmatch.cli.errors import fold_lines, hydra_command
from jobmatch.errors import ConfigError, OptionError
from tests.helpers import CONF, FIXTURES, ROOT


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def run_hydra(task, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *overrides: str) -> int:
    """Run ``task`` under ``@hydra.main`` (the training config) through :func:`hydra_command`."""

    @hydra.main(config_path=str(CONF), config_name="train", version_base="1.3")
    def main(cfg: DictConfig) -> None:
        task_wrapper(task)(cfg)

    monkeypatch.setattr(
        sys,
        "argv",
        [
            "prog",
            f"hydra.run.dir={tmp_path}",
            "hydra.output_subdir=null",
            "hydra/job_logging=none",
            "hydra/hydra_logging=none",
            *overrides,
        ],
    )
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        hydra_command(main)
    assert "HYDRA_FULL_ERROR" not in os.environ
    return int(exit_info.value.code)


def fails_with_a_missing_file(cfg: DictConfig) -> dict:
    raise FileNotFoundError("i: no such index; build it with python -m jobmatch.index")


def fails_with_a_bug(cfg: DictConfig) -> dict:
    raise RuntimeError("boom")


def test_fold_lines_folds_hydra_listings() -> None:
    text = "In 'config': Could not find 'model/x'\n\nAvailable options in 'model':\n\ta\n\tb\nConfig search path:\n\tp"
    assert fold_lines(text) == "In 'config': Could not find 'model/x'; Available options in 'model': a, b"
    assert fold_lines("Could not override 'k'.\nTo append use +k=3") == "Could not override 'k'. To append use +k=3"


def test_user_error_in_the_task_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    assert run_hydra(fails_with_a_missing_file, tmp_path, monkeypatch) == 2
    err = capsys.readouterr().err
    assert error_lines(err) == ["error: i: no such index; build it with python -m jobmatch.index"]
    assert "Traceback" not in err and "Error executing job" not in err


def test_a_library_option_error_reads_as_the_options(tmp_path, monkeypatch, capsys) -> None:
    """A library names its arguments ({train_file}); the command's one line names the options that set them."""
    def no_training_file(cfg: DictConfig) -> dict:
        raise OptionError("{train_file} is not set: pass {train_file}=PATH")

    assert run_hydra(no_training_file, tmp_path, monkeypatch) == 2
    assert error_lines(capsys.readouterr().err) == ["error: data.train_file is not set: pass data.train_file=PATH"]


def test_config_error_subclass_is_a_user_error(tmp_path, monkeypatch, capsys) -> None:
    def bad_value(cfg: DictConfig) -> dict:
        raise ConfigError("k=0: must be >= 1; pass k=10")

    assert run_hydra(bad_value, tmp_path, monkeypatch) == 2
    assert error_lines(capsys.readouterr().err) == ["error: k=0: must be >= 1; pass k=10"]


@pytest.mark.parametrize("override", ["nokey=3", "model=nosuch", "seed=[", "+seed=2"])
def test_hydra_override_errors_are_one_line(override, tmp_path, monkeypatch, capsys) -> None:
    assert run_hydra(fails_with_a_bug, tmp_path, monkeypatch, override) == 2
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1 and err.count("\n") == 1, err
    assert "Traceback" not in err and "HYDRA_FULL_ERROR" not in err


def test_a_bug_keeps_one_traceback(tmp_path, monkeypatch, capsys) -> None:
    assert run_hydra(fails_with_a_bug, tmp_path, monkeypatch) == 1
    err = capsys.readouterr().err
    assert err.count("Traceback") == 1 and "RuntimeError: boom" in err and "fails_with_a_bug" in err
    assert "_run_hydra" not in err  # Hydra's own frames are left out
    assert not error_lines(err)


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", **env},
    )


def test_report_on_a_missing_directory(tmp_path) -> None:
    done = run_cli("jobmatch.report", str(tmp_path / "none"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert error_lines(done.stderr) == [
        f"error: {tmp_path / 'none'}: no such directory (nothing matches); give run or multirun directories"
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_train_cli_on_a_missing_data_file(tmp_path) -> None:
    args = [
        "jobmatch.train",
        "model=tiny_bert",
        "logger=none",
        f"data.train_file={tmp_path / 'none.jsonl'}",
        f"data.val_file={FIXTURES / 'contrastive_tiny.jsonl'}",
        f"paths.run_dir={tmp_path / 'run'}",
    ]
    done = run_cli(*args)
    assert done.returncode == 2, done.stderr[-2000:]
    assert error_lines(done.stderr) == [f"error: {tmp_path / 'none.jsonl'}: no such data file"]
    assert "Traceback" not in done.stderr + done.stdout
    full = run_cli(*args, HYDRA_FULL_ERROR="1")
    assert full.returncode == 1 and "Traceback" in full.stderr and "FileNotFoundError" in full.stderr


def test_unwritable_run_dir_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    """Hydra creates the run directory before the task: a file in the way of the folder (as a read-only
    disk would refuse it, also for root)."""
    (tmp_path / "blocker").write_text("in the way")
    run_dir = tmp_path / "blocker" / "run"
    monkeypatch.setattr(sys, "argv", ["prog", f"hydra.run.dir={run_dir}", "hydra.output_subdir=null",
                                      "hydra/job_logging=none", "hydra/hydra_logging=none"])
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)

    @hydra.main(config_path=str(CONF), config_name="train", version_base="1.3")
    def main(cfg: DictConfig) -> None:
        raise AssertionError("the task must not start")

    with pytest.raises(SystemExit) as exit_info:
        hydra_command(main)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert error_lines(err) == [f"error: {run_dir}: cannot write the run directory or its log file (Not a directory); "
                                "fix: set paths.run_dir (or paths.output_dir) to a folder you can write"]


def test_unwritable_log_file_is_one_line(tmp_path) -> None:
    """Hydra opens the run's log file before the task (the real command: its logging set-up is global)."""
    log_file = tmp_path / "run" / "train.log"
    log_file.mkdir(parents=True)  # a folder in the way of the log file
    done = run_cli("jobmatch.train", "model=tiny_bert", "logger=none", f"paths.run_dir={tmp_path / 'run'}")
    assert done.returncode == 2, done.stderr[-2000:]
    assert error_lines(done.stderr) == [f"error: {log_file}: cannot write the run directory or its log file "
                                        "(Is a directory); fix: set paths.run_dir (or paths.output_dir) to a "
                                        "folder you can write"]
    assert "Traceback" not in done.stderr + done.stdout


def test_evaluate_refuses_an_unwritable_cache_dir_before_loading(tmp_path, monkeypatch) -> None:
    import jobmatch.app.evaluate_task as evaluate_task
    from tests.helpers import cfg_for

    (tmp_path / "blocker").write_text("in the way")
    monkeypatch.setattr(evaluate_task, "build_datamodule", lambda *_: pytest.fail("data loaded before the refusal"))
    cfg = cfg_for("evaluate", tmp_path, f"paths.cache_dir={tmp_path / 'blocker' / 'cache'}")
    with pytest.raises(ConfigError, match=r"^paths\.cache_dir=.*blocker/cache: not a writable folder \(Not a dir"):
        evaluate_task.evaluate(cfg)


@pytest.mark.parametrize(("task", "module", "entry", "loader"), [
    ("mine", "jobmatch.app.mine_task", "mine", "mine_file"),
    ("annotate", "jobmatch.app.annotate_task", "run", "annotate"),
    ("audit", "jobmatch.app.audit_task", "audit", "audit_setup"),
])
def test_data_tasks_refuse_an_unwritable_cache_dir_before_loading(tmp_path, monkeypatch, task: str, module: str,
                                                                  entry: str, loader: str) -> None:
    """``mine``, ``annotate`` and ``audit`` cache corpus stores and embeddings: refused in one line, no data read."""
    import importlib

    from tests.helpers import cfg_for

    task_module = importlib.import_module(module)
    (tmp_path / "blocker").write_text("in the way")
    monkeypatch.setattr(task_module, loader, lambda *_, **__: pytest.fail("data loaded before the refusal"))
    cfg = cfg_for(task, tmp_path, f"paths.cache_dir={tmp_path / 'blocker' / 'cache'}")
    with pytest.raises(ConfigError, match=r"^paths\.cache_dir=.*blocker/cache: not a writable folder \(Not a dir"):
        getattr(task_module, entry)(cfg)
