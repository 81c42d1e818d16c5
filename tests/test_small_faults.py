"""Small faults: report on a missing folder, the README's synthetic override, export file modes."""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from jobmatch.errors import UserError
from jobmatch.model.encoder import TextEncoder
from jobmatch.report.__main__ import main as report_main
from jobmatch.serving.export_format import export_encoder
from tests.helpers import ROOT, compose_config


def test_report_on_missing_folder_refused_without_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"typo: no such directory \(nothing matches\); give run or multirun"):
        report_main([str(tmp_path / "typo")])
    assert list(tmp_path.iterdir()) == []


def test_report_on_folder_without_runs_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"no run directories \(folders with a config.yaml\) found"):
        report_main([str(tmp_path / "empty")])
    assert list((tmp_path / "empty").iterdir()) == []


def test_readme_synthetic_overrides_command_composes() -> None:
    line = next(x for x in (ROOT / "README.md").read_text().splitlines() if "data.synthetic.overrides=" in x)
    words = shlex.split(line)
    overrides = words[words.index("train") + 1:]  # after "jobmatch train"
    assert any(o.startswith("data.synthetic.overrides=") for o in overrides), line
    cfg = compose_config(overrides)
    assert OmegaConf.to_container(cfg.data.synthetic.overrides) == {"judge_noise": 0.5}
    assert compose_config(["data=synthetic"]).data.synthetic.overrides is None  # the default: no overrides


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_exported_weights_readable_like_the_other_files(tmp_path: Path, umask_022: None) -> None:
    model = OmegaConf.to_container(compose_config(["model=tiny_bert"]).model, resolve=True)
    export_encoder(TextEncoder(model), tmp_path / "exp", max_query_length=8, max_passage_length=8)  # type: ignore[arg-type]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "exp").iterdir() if p.is_file()}
    assert modes["model.safetensors"] == 0o644, {k: oct(v) for k, v in modes.items()}
    assert set(modes.values()) == {0o644}, {k: oct(v) for k, v in modes.items()}
