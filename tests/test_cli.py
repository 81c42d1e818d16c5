"""The ``jobmatch`` command: one subcommand per task, the same arguments and errors as ``python -m jobmatch.<task>``,
and a built wheel that runs from any directory (its config tree inside the package)."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from jobmatch.cli.main import COMMANDS, alias_model_argument, main
from tests.helpers import FIXTURES, ROOT

TASKS = {"train", "evaluate", "mine", "curriculum", "annotate", "pipeline", "audit", "export", "index", "rank",
         "report", "data"}


def run(*args: str, cwd: Path = ROOT, python: str = sys.executable) -> subprocess.CompletedProcess:
    """``python ARGS`` in ``cwd``; without PYTHONPATH, so that the package comes from ``cwd`` or the venv."""
    environ = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "PYTHONPATH")}
    return subprocess.run([python, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline",
                               "TOKENIZERS_PARALLELISM": "false"})


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_every_task_is_a_subcommand_whose_module_has_a_main() -> None:
    assert set(COMMANDS) == TASKS
    for name, command in COMMANDS.items():
        assert callable(importlib.import_module(command.module).main), name


def test_the_console_script_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"jobmatch": "jobmatch.cli.main:main"}


def test_help_lists_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert all(f"  {name} " in out for name in TASKS)


def test_an_unknown_subcommand_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["trian"])
    assert exit_.value.code == 2
    assert error_lines(capsys.readouterr().err)[0].startswith("error: jobmatch trian: unknown command")


def test_model_names_the_export_folder_for_index_and_rank() -> None:
    assert alias_model_argument(["model=out/m", "k=3"]) == ["model_dir=out/m", "k=3"]
    assert COMMANDS["rank"].model_dir and COMMANDS["index"].model_dir and not COMMANDS["train"].model_dir


@pytest.mark.parametrize("spelling", [["-m", "jobmatch", "rank"], ["-m", "jobmatch.rank"]])
def test_both_spellings_take_model_dir_and_report_in_one_line(spelling: list[str], tmp_path: Path) -> None:
    done = run(*spelling, f"model={tmp_path / 'm'}", f"index={tmp_path / 'nope'}", "jd=x")
    assert done.returncode == 2, done.stderr[-2000:]
    assert error_lines(done.stderr) == [f"error: index {tmp_path / 'nope'} does not exist; build it with "
                                        f"jobmatch index model=EXPORT corpus=FILE out={tmp_path / 'nope'}"]


def test_argparse_subcommands_run_through_the_dispatcher(tmp_path: Path) -> None:
    done = run("-m", "jobmatch", "report", str(tmp_path / "none"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert error_lines(done.stderr)[0].startswith(f"error: {tmp_path / 'none'}: no such directory")
    assert run("-m", "jobmatch", "data", "--help").stdout.startswith("usage: jobmatch data")


def test_a_hydra_error_through_the_dispatcher_is_one_line() -> None:
    done = run("-m", "jobmatch", "train", "model=nosuch")
    assert done.returncode == 2 and len(error_lines(done.stderr)) == 1 and "Traceback" not in done.stderr


def wheel_venv(tmp_path: Path) -> Path:
    """A venv with the built wheel installed (no network): the project venv's packages stay visible through a
    ``.pth`` file, the package itself only as installed from the wheel. Returns its ``bin`` folder."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("jobmatch", "conf"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    built = run("-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels))
    assert built.returncode == 0, built.stderr[-3000:]
    env = tmp_path / "venv"
    venv.create(env, with_pip=False)
    site = next((env / "lib").glob("python*/site-packages"))
    project_site = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    (site / "project.pth").write_text(project_site + "\n")
    installed = run("-m", "pip", "--python", str(env / "bin" / "python"), "install", "--no-deps", "--no-index", "-q",
                    str(next(wheels.glob("*.whl"))))
    assert installed.returncode == 0, installed.stderr[-3000:]
    return env / "bin"


@pytest.mark.slow
def test_the_wheel_trains_and_ranks_from_another_directory(tmp_path: Path) -> None:
    bin_dir = wheel_venv(tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(FIXTURES / "contrastive_tiny.jsonl", work / "pairs.jsonl")
    where = run("-c", "import jobmatch; print(jobmatch.__file__)", cwd=work, python=str(bin_dir / "python"))
    assert where.stdout.strip().startswith(str(tmp_path / "venv")), where.stdout + where.stderr

    def jobmatch(*args: str) -> subprocess.CompletedProcess:
        done = run(str(bin_dir / "jobmatch"), *args, cwd=work, python=str(bin_dir / "python"))
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    jobmatch("train", "model=tiny_bert", "data.train_file=pairs.jsonl", "logger=none", "trainer.max_steps=2",
             "data.batch_size=4", "paths.run_dir=run", "trainer.enable_progress_bar=false")
    jobmatch("export", "model=tiny_bert", "ckpt=run/checkpoints/last.ckpt", "out=export", "logger=none")
    jobmatch("index", "model=export", "corpus=pairs.jsonl", "out=index")
    ranked = jobmatch("rank", "index=index", "jd='Postdoc in machine learning, Bristol'", "k=3", "format=json")
    answer = json.loads(ranked.stdout.strip().splitlines()[-1])
    assert answer["jd"] == "Postdoc in machine learning, Bristol"
    assert [row["rank"] for row in answer["results"]] == [1, 2, 3]
    assert (work / "run" / "config.yaml").is_file() and not (ROOT / "elsewhere").exists()
