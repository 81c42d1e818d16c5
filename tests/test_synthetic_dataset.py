"""Writing synthetic datasets: files, read-back, byte-identical determinism, reuse, atomicity, CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from jobmatch.data.readers import read_contrastive
from jobmatch.data.synthetic import (
    DatasetMismatchError,
    SyntheticConfig,
    build_world,
    dataset_fingerprint,
    ensure_dataset,
    failed_rules,
    generate_dataset,
    read_manifest,
)
from jobmatch.data.synthetic import generate as generate_module
from jobmatch.data.synthetic.__main__ import main
from jobmatch.data.synthetic.store import JsonlFile

TINY = SyntheticConfig(n_talents=300, n_jds=40, relocation_probability=0.5, judge_pairs=100)
FILES = ("train.jsonl", "val.jsonl", "test.jsonl", "test_ood.jsonl", "corpus.jsonl", "manifest.json", "dataset_card.md")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(TINY, tmp_path_factory.mktemp("synthetic") / "tiny")


def _bytes(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in FILES}


def test_files_read_back_and_match_the_rules(dataset: Path) -> None:
    assert sorted(p.name for p in dataset.iterdir()) == sorted(FILES)
    world = build_world(TINY)
    corpus = [json.loads(line) for line in (dataset / "corpus.jsonl").read_text().splitlines()]
    assert [c["id"] for c in corpus] == [t.id for t in world.talents]
    texts = {c["id"]: c["text"] for c in corpus}
    seen: set[str] = set()
    for split in ("train", "val", "test"):
        rows = read_contrastive(dataset / f"{split}.jsonl", min_negatives=TINY.n_negatives)
        for row in rows:
            assert row.query_id is not None and row.positive_ids and row.negative_ids
            assert row.query_id not in seen
            seen.add(row.query_id)
            jd = world.jd(row.query_id)
            assert row.query == jd.text and row.positive_ids == world.positives[jd.id]
            assert [texts[i] for i in row.positive_ids] == list(row.positives)
            assert [texts[i] for i in row.negative_ids] == list(row.negatives)
            assert all(failed_rules(jd, world.talent(i)) for i in row.negative_ids)
            assert not set(row.positive_ids) & set(row.negative_ids)
    assert len(seen) == TINY.n_jds


def test_ood_split_asks_for_subfields_no_other_split_does(dataset: Path) -> None:
    world = build_world(TINY)
    ood = read_contrastive(dataset / "test_ood.jsonl")
    assert len(ood) == len(world.ood_jds) == TINY.n_ood() == 4
    assert [len(r) for r in (read_contrastive(dataset / f"{s}.jsonl") for s in ("train", "val", "test"))] == list(
        TINY.split_sizes()
    )  # the in-distribution splits keep their sizes
    in_dist = {world.jd(r.query_id).subfield for s in ("train", "val", "test")
               for r in read_contrastive(dataset / f"{s}.jsonl")}
    ood_subfields = {world.jd(r.query_id).subfield for r in ood}
    assert ood_subfields <= set(TINY.ood_subfields) and not ood_subfields & in_dist
    assert all(r.positives and r.query_id.startswith("jd-ood-") for r in ood)  # rule positives in the corpus
    manifest = read_manifest(dataset)
    assert manifest["figures"]["ood"]["subfields"] == list(TINY.ood_subfields)
    assert manifest["files"]["test_ood.jsonl"]["rows"] == 4
    assert "out-of-distribution test JDs" in (dataset / "dataset_card.md").read_text()


def test_manifest_and_card(dataset: Path) -> None:
    manifest = read_manifest(dataset)
    assert manifest is not None
    assert manifest["fingerprint"] == dataset_fingerprint(TINY) and manifest["config"] == TINY.to_dict()
    assert manifest["files"]["train.jsonl"]["rows"] == TINY.split_sizes()[0]
    assert manifest["files"]["corpus.jsonl"]["bytes"] == (dataset / "corpus.jsonl").stat().st_size
    figures = manifest["figures"]
    assert figures["lengths"]["talents"]["max_length"] == TINY.passage_max_length
    assert 0 <= figures["lengths"]["talents"]["truncated_share"] <= 1
    card = (dataset / "dataset_card.md").read_text()
    for needle in ("Positives per JD", "truncated", "agreement with the rules", "mean confidence"):
        assert needle in card


def test_byte_identical_for_a_seed_and_different_for_another(dataset: Path, tmp_path: Path) -> None:
    again = generate_dataset(TINY, tmp_path / "again")
    assert _bytes(again) == _bytes(dataset)
    generate_dataset(TINY, again, overwrite=True)
    assert _bytes(again) == _bytes(dataset) and sorted(p.name for p in tmp_path.iterdir()) == ["again"]
    other = generate_dataset(dataclasses.replace(TINY, seed=1), tmp_path / "other")
    assert (other / "train.jsonl").read_bytes() != (dataset / "train.jsonl").read_bytes()


def test_ensure_dataset_reuses_and_refuses_a_different_config(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_generation(*args: object, **kwargs: object) -> Path:
        raise AssertionError("ensure_dataset regenerated an existing dataset")

    monkeypatch.setattr(generate_module, "generate_dataset", no_generation)
    assert ensure_dataset(TINY, dataset) == dataset
    with pytest.raises(DatasetMismatchError, match="delete"):
        ensure_dataset(dataclasses.replace(TINY, seed=7), dataset)


def test_generate_dataset_does_not_overwrite_by_accident(dataset: Path) -> None:
    with pytest.raises(FileExistsError, match="ensure_dataset"):
        generate_dataset(TINY, dataset)


def test_ensure_dataset_refuses_foreign_directories(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetMismatchError, match="not a synthetic dataset"):
        ensure_dataset(TINY, tmp_path / "stuff")


def test_interrupted_generation_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = JsonlFile.write
    calls: list[Path] = []

    def failing_writer(self: JsonlFile, row: dict[str, object], key: str | None = None) -> None:
        if self.path.name == "train.jsonl":  # the corpus is written by then: fail mid-way
            calls.append(self.path)
            raise RuntimeError("disk full")
        real(self, row, key)

    monkeypatch.setattr(JsonlFile, "write", failing_writer)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_dataset(TINY, tmp_path / "data")
    assert len(calls) == 1 and list(tmp_path.iterdir()) == []


def test_cli_generates_then_reuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    args = ["--preset", "synthetic_small", "--out", str(out), "--n-talents", "300", "--n-jds", "30"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert first.startswith("generated synthetic_small") and str(out / "dataset_card.md") in first
    assert main(args) == 0 and capsys.readouterr().out.startswith("reused")
    assert main([*args[:-1], "31"]) == 2
    assert "delete" in capsys.readouterr().err
