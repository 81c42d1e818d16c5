"""Ranking and the three entry points: JD input, truncation warning, table and JSON output, export → index → rank."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from jobmatch.app.export_task import export
from jobmatch.app.index_task import build
from jobmatch.app.rank_task import rank
from jobmatch.cli.main import alias_model_argument
from jobmatch.data.readers import DataFormatError
from jobmatch.errors import UserError
from jobmatch.serving.device import resolve_device
from jobmatch.serving.export_format import read_export_manifest
from jobmatch.serving.indexing import index_talents
from jobmatch.serving.ranking import JD, Ranker, read_jds, snippet
from tests.helpers import ROOT, compose_config, one_thread
from tests.helpers.serving import TALENTS, make_export, tiny_encoder, write_jsonl


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TALENTS indexed with a tiny export (JD limit 16 tokens)."""
    root = tmp_path_factory.mktemp("rank")
    model = make_export(root / "export", max_query_length=16)
    index_talents(model, write_jsonl(root / "corpus.jsonl", TALENTS), root / "index")
    return root / "index"


def test_read_jds(tmp_path: Path) -> None:
    assert read_jds("  Postdoc in NLP  ") == [JD("jd", "Postdoc in NLP", "jd argument")]
    text_file = tmp_path / "jds.txt"
    text_file.write_text("Postdoc in NLP\n\nLecturer in chemistry\n")
    assert [(j.id, j.text, j.source) for j in read_jds(str(text_file))] == [
        ("jd1", "Postdoc in NLP", f"{text_file}:1"), ("jd3", "Lecturer in chemistry", f"{text_file}:3")]
    jsonl = write_jsonl(tmp_path / "jds.jsonl", [{"query": "A", "query_id": "q7"}, {"query": "B"}])
    assert [(j.id, j.text) for j in read_jds(str(jsonl))] == [("q7", "A"), ("jd2", "B")]


@pytest.mark.parametrize(("rows", "error", "message"), [
    ([{"query": "A"}, {"query": " "}], DataFormatError, r"bad\.jsonl:2: empty JD text"),
    ([{"query": "A"}, {"text": "B"}], DataFormatError, r"bad\.jsonl:2: expected a JSON object with the JD text"),
    (['{"query": '], DataFormatError, r"bad\.jsonl:1: not valid JSON"),
    ([], DataFormatError, r"bad\.jsonl:0: no JDs in file"),
])
def test_bad_jd_files(tmp_path: Path, rows: list, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        read_jds(str(write_jsonl(tmp_path / "bad.jsonl", rows)))


def test_empty_jd_and_missing_file() -> None:
    with pytest.raises(ValueError, match="jd is empty"):
        read_jds("   ")
    with pytest.raises(FileNotFoundError, match=r"jd=missing/jds\.txt: no such file"):
        read_jds("missing/jds.txt")


def test_oversize_jd_is_truncated_with_a_warning(index_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    ranker = Ranker.open(index_dir)
    long_jd = JD("long", " ".join(["machine learning postdoc"] * 30), "test")
    with caplog.at_level(logging.WARNING, logger="jobmatch.serving.ranking"):
        result = ranker.rank(long_jd, k=2)
    assert "JD long (test) has" in caplog.text and "reads at most 16 (max_query_length" in caplog.text
    assert len(result.hits) == 2
    with pytest.raises(ValueError, match="k must be >= 1"):
        ranker.rank(long_jd, k=0)


def test_snippet() -> None:
    assert snippet("<keyword>a<sep>b</keyword><title>T</title>", 80) == "a; b T"
    assert snippet("x" * 100, 10) == "x" * 9 + "…"


def test_rank_entry_point_json_and_table(index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    jds = write_jsonl(tmp_path / "jds.jsonl", [{"query": TALENTS[2]["text"], "query_id": "q1"},
                                               {"query": "Chemistry lecturer", "query_id": "q2"}])
    summary = rank(compose_config([f"index={index_dir}", f"jd={jds}", "k=3", "format=json"], config_name="rank"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["jd_id"] for line in lines] == ["q1", "q2"] and summary["jds"] == 2
    assert [h["rank"] for h in lines[0]["results"]] == [1, 2, 3] and lines[0]["results"][0]["id"] == "t3"
    assert summary["median_ms"] < 1000
    rank(compose_config([f"index={index_dir}", "jd=Professor of marine ecology", "k=2"], config_name="rank"))
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("JD jd (jd argument): Professor of marine ecology")
    assert table[1].split() == ["rank", "id", "score", "profile"] and len(table) == 4
    with pytest.raises(ValueError, match="format=xml"):
        rank(compose_config([f"index={index_dir}", "jd=x", "format=xml"], config_name="rank"))


def test_export_reads_token_limits_from_the_checkpoint(tmp_path: Path) -> None:
    """A checkpoint whose module recorded its token limits exports them with no config.yaml beside it."""
    encoder = tiny_encoder()
    state = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    ckpt = tmp_path / "moved.ckpt"  # no <run_dir>/config.yaml next to it
    hparams = {"model": encoder.cfg, "in_batch_negatives": True, "max_query_length": 24, "max_passage_length": 56}
    torch.save({"hyper_parameters": hparams, "state_dict": state}, ckpt)
    out = tmp_path / "export"
    export(compose_config([f"ckpt={ckpt}", f"out={out}", f"paths.output_dir={tmp_path / 'outputs'}"],
                          config_name="export"))
    manifest = read_export_manifest(out)
    assert (manifest.max_query_length, manifest.max_passage_length) == (24, 56)


def test_export_index_entry_points(tmp_path: Path) -> None:
    """A checkpoint of the shape Lightning writes → export (limits from the run's config.yaml) → index."""
    encoder = tiny_encoder()
    run = tmp_path / "train_run"
    (run / "checkpoints").mkdir(parents=True)
    OmegaConf.save({"data": {"max_query_length": 40, "max_passage_length": 48}}, run / "config.yaml")
    state = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    torch.save({"hyper_parameters": {"model": encoder.cfg}, "state_dict": state}, run / "checkpoints" / "best.ckpt")
    out = tmp_path / "export"
    results = export(compose_config([f"ckpt={run / 'checkpoints' / 'best.ckpt'}", f"out={out}",
                                    f"paths.output_dir={tmp_path / 'outputs'}"], config_name="export"))
    manifest = read_export_manifest(out)
    assert (manifest.max_query_length, manifest.max_passage_length) == (40, 48)
    assert manifest.source_checkpoint == str((run / "checkpoints" / "best.ckpt").resolve())
    assert results["export/model_fingerprint"] == manifest.model_fingerprint
    corpus = write_jsonl(tmp_path / "corpus.jsonl", TALENTS)
    argv = alias_model_argument([f"model={out}", f"corpus={corpus}", f"out={tmp_path / 'index'}"])
    results = build(compose_config([*argv, f"paths.output_dir={tmp_path / 'outputs'}", "device=cpu"],
                                   config_name="index"))
    assert results["index/total"] == len(TALENTS) and results["index/talents_per_s"] > 0


def test_resolve_device() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_every_serving_config_composes() -> None:
    assert compose_config(["ckpt=null", "out=x"], config_name="export").model.pooling in ("cls", "mean", "last_token")
    assert compose_config(["model_dir=m", "corpus=c", "out=o"], config_name="index").device == "auto"
    assert compose_config(["index=i", "jd=j"], config_name="rank").format == "table"


@pytest.mark.slow
def test_rank_cli_prints_only_json_on_stdout(index_dir: Path) -> None:
    """The real command line: ``model=`` as an alias, logs on stderr, one JSON object on stdout."""
    model = json.loads((index_dir / "manifest.json").read_text())["model_path"]
    done = subprocess.run(
        [sys.executable, "-m", "jobmatch.rank", f"index={index_dir}", 'jd="Postdoc in NLP, Edinburgh"', "k=2",
         "format=json", f"model={model}"],
        cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
        capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert result["jd"] == "Postdoc in NLP, Edinburgh" and len(result["results"]) == 2
    assert "ranked 1 JD(s)" in done.stderr


@pytest.mark.slow
def test_rank_cli_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "jobmatch.rank", f"index={tmp_path / 'none'}", "jd=x"], cwd=ROOT,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "error: index" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(("override", "message"), [
    ("k=abc", r"^k=abc: expected an integer >= 1; pass e\.g\. k=20$"),
    ("k=0", r"^k=0: out of range: expected an integer >= 1"),
    ("threads=0", r"^threads=0: out of range: expected an integer >= 1; pass e\.g\. threads=1"),
    ("snippet_chars=-1", r"^snippet_chars=-1: out of range"),
])
def test_bad_rank_numbers_in_one_line(index_dir: Path, override: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        rank(compose_config([f"index={index_dir}", "jd=Postdoc in NLP", override], config_name="rank"))


def test_index_threads_zero_in_one_line(tmp_path: Path) -> None:
    cfg = compose_config(["model_dir=m", f"corpus={tmp_path / 'c.jsonl'}", f"out={tmp_path / 'o'}", "threads=0",
                          f"paths.output_dir={tmp_path / 'outputs'}"], config_name="index")
    with pytest.raises(UserError, match=r"^threads=0: out of range"):
        build(cfg)
    assert not (tmp_path / "o").exists()


def test_stdin_that_is_not_utf8_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Postdoc in NLP\ncaf\xe9 \xff\n")))
    with pytest.raises(DataFormatError, match=r"^<stdin>:2: not valid UTF-8 \(byte 0xE9 at column 4\)"):
        read_jds("-")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\ufeffCafé postdoc\n".encode())))
    assert [jd.text for jd in read_jds("-")] == ["Café postdoc"]
