"""Talent index: build, reload, append (only new talents encoded), refusals, bad corpora, crash safety."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import jobmatch.retrieval.shard_encode as shard_encode
import jobmatch.serving.index_store as index_store
import jobmatch.serving.indexing as indexing
from jobmatch.data.readers import DataFormatError
from jobmatch.serving.errors import IndexStoreError, ModelMismatchError
from jobmatch.serving.export_format import read_export_manifest
from jobmatch.serving.index_store import TalentIndex
from jobmatch.serving.indexing import index_talents
from jobmatch.serving.ranking import JD, Ranker
from jobmatch.serving.talents import content_id, read_talents
from tests.helpers import one_thread
from tests.helpers.serving import NEW_TALENTS, TALENTS, count_encoded, make_export, write_jsonl


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two exports of the same architecture with different weights."""
    root = tmp_path_factory.mktemp("exports")
    return make_export(root / "a", seed=0), make_export(root / "b", seed=1)


@pytest.fixture
def built(tmp_path: Path, exports: tuple[Path, Path]) -> Path:
    """An index of TALENTS built with export a."""
    out = tmp_path / "index"
    index_talents(exports[0], write_jsonl(tmp_path / "corpus.jsonl", TALENTS), out)
    return out


def test_build_reload_and_rank(built: Path, exports: tuple[Path, Path]) -> None:
    store = TalentIndex.load(built)
    manifest = store.manifest
    assert store.ids == [t["id"] for t in TALENTS] and manifest.count == len(TALENTS)
    assert manifest.model_fingerprint == read_export_manifest(exports[0]).model_fingerprint
    assert manifest.dim == 32 and manifest.kind == "flat" and manifest.created and manifest.corpus_fingerprint
    ranker = Ranker.open(built)
    for talent in TALENTS:  # a talent's own text as the JD finds that talent first (same length limits)
        result = ranker.rank(JD("q", talent["text"], "test"), k=3)
        assert result.hits[0].id == talent["id"] and result.hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert [h.rank for h in result.hits] == [1, 2, 3]
    assert len(ranker.rank(JD("q", "anything", "test"), k=50).hits) == len(TALENTS)  # k beyond the pool


def test_append_encodes_only_new_talents(built: Path, tmp_path: Path, exports: tuple[Path, Path],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_encoded(monkeypatch)
    before = TalentIndex.load(built)
    corpus = write_jsonl(tmp_path / "more.jsonl", [TALENTS[0], *NEW_TALENTS])  # t1 again, unchanged
    report = index_talents(exports[0], corpus, built, append=True)
    assert calls == [len(NEW_TALENTS)] and report.added == 2 and report.skipped == 1
    after = TalentIndex.load(built)
    assert after.ids == [*before.ids, "t7", "t8"] and after.manifest.generation == 2
    assert after.manifest.corpus_fingerprint != before.manifest.corpus_fingerprint
    old_vectors = np.stack([before.index.reconstruct(i) for i in range(len(before))])
    assert np.array_equal(np.stack([after.index.reconstruct(i) for i in range(len(before))]), old_vectors)
    modes = [(built / name).stat().st_mode & 0o777 for name in (after.manifest.talents_file, "manifest.json")]
    assert modes[0] == modes[1]  # the talents file is as readable as the other index files
    assert sorted(p.name for p in built.iterdir()) == ["manifest.json", "talents-000002.arrow",
                                                       "vectors-000002.faiss"]
    assert [s["added"] for s in after.manifest.sources] == [6, 2]
    hit = Ranker.open(built).rank(JD("q", NEW_TALENTS[1]["text"], "test"), k=1).hits[0]
    assert hit.id == "t8"
    assert index_talents(exports[0], corpus, built, append=True).added == 0  # idempotent


def test_append_rejects_changed_duplicate_id(built: Path, tmp_path: Path, exports: tuple[Path, Path]) -> None:
    corpus = write_jsonl(tmp_path / "dup.jsonl", [NEW_TALENTS[0], {"id": "t2", "text": "someone else"}])
    with pytest.raises(DataFormatError, match=r"dup\.jsonl:2: duplicate id 't2': already in the index"):
        index_talents(exports[0], corpus, built, append=True)
    assert len(TalentIndex.load(built)) == len(TALENTS)


def test_other_model_is_refused(built: Path, tmp_path: Path, exports: tuple[Path, Path]) -> None:
    corpus = write_jsonl(tmp_path / "more.jsonl", NEW_TALENTS)
    with pytest.raises(ModelMismatchError, match=r"was built with the model .*fingerprint .*rebuild the index"):
        index_talents(exports[1], corpus, built, append=True)
    with pytest.raises(ModelMismatchError, match="scores"):
        Ranker.open(built, exports[1])
    index_talents(exports[1], corpus, built)  # append=false: a new index with the other model
    assert TalentIndex.load(built).ids == ["t7", "t8"]


@pytest.mark.parametrize(("line", "problem"), [
    ('{"text": "no id"}', "missing key 'id'"),
    ('{"id": "x"}', "missing key 'text'"),
    ('{"id": "x", "text": "  "}', "'text' is empty"),
    ('{"id": true, "text": "bool id"}', "'id' must be a non-empty string or integer"),
    ('{"id": "t1", "text": "again"}', "duplicate id 't1' \\(first on line 1\\)"),
    ('{"id": "x", "text": ', "not valid JSON"),
])
def test_bad_corpus_lines(tmp_path: Path, line: str, problem: str) -> None:
    corpus = write_jsonl(tmp_path / "bad.jsonl", [TALENTS[0], line])
    with pytest.raises(DataFormatError, match=rf"bad\.jsonl:2: {problem}"):
        read_talents(corpus)


def test_empty_or_missing_corpus(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such corpus file"):
        read_talents(tmp_path / "absent.jsonl")
    with pytest.raises(DataFormatError, match=r"no valid records|no talents"):
        read_talents(write_jsonl(tmp_path / "empty.jsonl", []))


def test_contrastive_corpus_gets_content_ids(tiny_data: Path) -> None:
    talents = read_talents(tiny_data)
    texts = [t.text for t in talents]
    records = [json.loads(line) for line in tiny_data.read_text().splitlines() if line.strip()]
    distinct = {p for r in records for p in (*r["positives"], *r["negatives"])}
    assert len(talents) == len(set(texts)) == len(distinct)
    assert all(t.id == content_id(t.text) for t in talents)


def test_missing_and_corrupt_index(built: Path, tmp_path: Path) -> None:
    with pytest.raises(IndexStoreError, match=r"does not exist; build it with jobmatch index"):
        TalentIndex.load(tmp_path / "nowhere")
    manifest = json.loads((built / "manifest.json").read_text())
    vectors = built / manifest["vectors_file"]
    data = bytearray(vectors.read_bytes())
    data[len(data) // 2] ^= 0xFF
    vectors.write_bytes(bytes(data))
    with pytest.raises(IndexStoreError, match=r"vectors-000001\.faiss: corrupt"):
        TalentIndex.load(built)
    vectors.unlink()
    with pytest.raises(IndexStoreError, match=r"vectors-000001\.faiss: missing"):
        TalentIndex.load(built)
    (built / "manifest.json").write_text("{not json")
    with pytest.raises(IndexStoreError, match=r"manifest\.json: corrupt"):
        TalentIndex.load(built)
    (built / "manifest.json").unlink()
    with pytest.raises(IndexStoreError, match="not a jobmatch index"):
        TalentIndex.load(built)


def test_model_folder_that_is_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    corpus = write_jsonl(tmp_path / "corpus.jsonl", TALENTS)
    with pytest.raises(ValueError, match="is not a jobmatch export"):
        index_talents(tmp_path / "model", corpus, tmp_path / "index")


def test_interrupted_writes_keep_the_previous_index(built: Path, tmp_path: Path, exports: tuple[Path, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_jsonl(tmp_path / "more.jsonl", NEW_TALENTS)

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(indexing, "encode_to_shards", crash)  # interrupted while encoding
    with pytest.raises(KeyboardInterrupt):
        index_talents(exports[0], corpus, built, append=True)
    monkeypatch.undo()
    original = index_store._atomic_write

    def crash_at_commit(path: Path, data: bytes) -> None:
        if path.name == "manifest.json":
            raise KeyboardInterrupt  # the new generation's data files are on disk, the manifest is not
        original(path, data)

    monkeypatch.setattr(index_store, "_atomic_write", crash_at_commit)
    with pytest.raises(KeyboardInterrupt):
        index_talents(exports[0], corpus, built)  # a rebuild over the existing index
    monkeypatch.undo()
    assert TalentIndex.load(built).ids == [t["id"] for t in TALENTS]  # still the previous index
    assert index_talents(exports[0], corpus, built, append=True).total == len(TALENTS) + 2
    manifest = TalentIndex.load(built).manifest  # the interrupted generation's files were replaced or removed
    assert sorted(p.name for p in built.iterdir()) == sorted(["manifest.json", manifest.vectors_file,
                                                              manifest.talents_file])


def test_refuses_to_write_into_a_foreign_folder(tmp_path: Path, exports: tuple[Path, Path]) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("...")
    with pytest.raises(IndexStoreError, match="not a jobmatch index; refusing"):
        index_talents(exports[0], write_jsonl(tmp_path / "c.jsonl", TALENTS), tmp_path / "mine")


def test_unusual_characters_survive_the_round_trip(tmp_path: Path, exports: tuple[Path, Path]) -> None:
    talents = [{"id": "ü-1", "text": "line\u2028separator and\u0085next line, emoji 🧪, tab\\there"}, TALENTS[0]]
    index_talents(exports[0], write_jsonl(tmp_path / "c.jsonl", talents), tmp_path / "index")
    store = TalentIndex.load(tmp_path / "index")
    assert store.ids == ["ü-1", "t1"] and store.texts([0]) == [talents[0]["text"]]


@pytest.mark.parametrize("links", [True, False])
def test_a_whole_build_keeps_its_text_store_as_the_talents_file(tmp_path: Path, exports: tuple[Path, Path],
                                                                 monkeypatch: pytest.MonkeyPatch, links: bool) -> None:
    def no_second_copy(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a whole build wrote its texts a second time")

    def no_links(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("hard links not supported")

    monkeypatch.setattr(index_store, "write_store", no_second_copy)
    if not links:
        monkeypatch.setattr(index_store.os, "link", no_links)
    out = tmp_path / "index"
    index_talents(exports[0], write_jsonl(tmp_path / "corpus.jsonl", TALENTS), out)
    monkeypatch.undo()
    store = TalentIndex.load(out)
    assert store.ids == [t["id"] for t in TALENTS] and store.texts([1, 0]) == [TALENTS[1]["text"], TALENTS[0]["text"]]
    manifest = store.manifest
    assert sorted(p.name for p in out.iterdir()) == sorted(["manifest.json", manifest.vectors_file,
                                                            manifest.talents_file])
    digest = index_store.CorpusDigest()
    for talent in TALENTS:
        digest.update(talent["id"], talent["text"])
    assert manifest.corpus_fingerprint == digest.hexdigest()


def test_moved_export(tmp_path: Path) -> None:
    model = make_export(tmp_path / "export")
    index_talents(model, write_jsonl(tmp_path / "c.jsonl", TALENTS), tmp_path / "index")
    model.rename(tmp_path / "moved")
    with pytest.raises(FileNotFoundError, match="is gone; pass model="):
        Ranker.open(tmp_path / "index")
    assert Ranker.open(tmp_path / "index", tmp_path / "moved").rank(JD("q", "x", "t"), k=1).hits


def test_killed_build_resumes_with_the_missing_shards(tmp_path: Path, exports: tuple[Path, Path],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", TALENTS)
    calls = count_encoded(monkeypatch)
    original = shard_encode.ShardWriter.write_on_batch_end
    written: list[int] = []

    def killed_after_one(self, trainer, module, prediction, *args):  # type: ignore[no-untyped-def]
        if written:
            raise RuntimeError("killed")
        original(self, trainer, module, prediction, *args)
        written.append(prediction[0].shard)

    monkeypatch.setattr(shard_encode.ShardWriter, "write_on_batch_end", killed_after_one)
    with pytest.raises(RuntimeError, match="killed"):
        index_talents(exports[0], corpus, tmp_path / "index", shard_size=2)
    assert not (tmp_path / "index" / "manifest.json").exists() and calls == [2, 2]
    monkeypatch.setattr(shard_encode.ShardWriter, "write_on_batch_end", original)
    calls.clear()
    report = index_talents(exports[0], corpus, tmp_path / "index", shard_size=2)
    assert calls == [2, 2] and report.total == len(TALENTS)  # shards 1 and 2: shard 0 was on disk
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == [
        "manifest.json", "talents-000001.arrow", "vectors-000001.faiss"]
    whole = tmp_path / "whole"
    index_talents(exports[0], corpus, whole)
    resumed, fresh = TalentIndex.load(tmp_path / "index"), TalentIndex.load(whole)
    assert resumed.ids == fresh.ids
    assert resumed.manifest.corpus_fingerprint == fresh.manifest.corpus_fingerprint
    vectors = [np.stack([i.index.reconstruct(r) for r in range(len(TALENTS))]) for i in (resumed, fresh)]
    assert np.allclose(*vectors, atol=1e-5)


def test_truncated_talents_are_counted_while_encoding(tmp_path: Path, exports: tuple[Path, Path]) -> None:
    long = {"id": "long", "text": " ".join(["graph neural networks for protein folding"] * 20)}
    report = index_talents(exports[0], write_jsonl(tmp_path / "c.jsonl", [*TALENTS, long]), tmp_path / "index")
    assert report.truncated == 1 and report.added == len(TALENTS) + 1


def test_rank_reads_only_the_texts_it_shows(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobmatch.data.text_store import TextStore

    read: list[int] = []
    original = TextStore.texts

    def spy(self, rows):  # type: ignore[no-untyped-def]
        read.append(len(rows))
        return original(self, rows)

    monkeypatch.setattr(TextStore, "texts", spy)
    ranker = Ranker.open(built)
    read.clear()
    result = ranker.rank(JD("q", TALENTS[2]["text"], "test"), k=2)
    assert read == [2] and result.hits[0].id == "t3" and result.hits[0].snippet.startswith("Professor of marine")


def test_index_of_the_jsonl_format_asks_for_a_rebuild(built: Path) -> None:
    manifest = json.loads((built / "manifest.json").read_text())
    (built / "manifest.json").write_text(json.dumps({**manifest, "version": 1}))
    with pytest.raises(IndexStoreError, match="version 1 keeps talents as JSONL; rebuild"):
        TalentIndex.load(built)


def test_trainer_option_of_the_index_task() -> None:
    from omegaconf import OmegaConf

    from jobmatch.app.index_task import trainer_arguments
    from jobmatch.serving.errors import InputError

    assert trainer_arguments(None) is None
    assert trainer_arguments(OmegaConf.create({"devices": 2, "strategy": "ddp"})) == {"devices": 2, "strategy": "ddp"}
    with pytest.raises(InputError, match="trainer=4: expected Trainer arguments"):
        trainer_arguments(4)


def test_index_of_a_contrastive_file(tiny_data: Path, tmp_path: Path, exports: tuple[Path, Path]) -> None:
    report = index_talents(exports[0], tiny_data, tmp_path / "index")
    talents = read_talents(tiny_data)
    store = TalentIndex.load(tmp_path / "index")
    assert report.added == len(talents) and store.ids == [t.id for t in talents]
    assert store.texts([0, len(talents) - 1]) == [talents[0].text, talents[-1].text]
    assert index_talents(exports[0], tiny_data, tmp_path / "index", append=True).skipped == len(talents)
