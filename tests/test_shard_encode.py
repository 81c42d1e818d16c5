"""Sharded corpus encoding: shards equal in-memory encoding, an interrupted run resumes with the missing
shards only, and two DDP processes (gloo, CPU) write the shards one process writes."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import jobmatch.retrieval.shard_encode as shard_encode
from jobmatch.data.text_store import TextStore
from jobmatch.retrieval.encode import encode_texts
from jobmatch.retrieval.shard_encode import encode_to_shards, tokenize_counting
from jobmatch.retrieval.shards import ShardedEmbeddings, ShardPlan
from jobmatch.serving.export_format import load_exported
from tests.helpers import one_thread
from tests.helpers.ranks import run_ranks
from tests.helpers.serving import count_encoded, make_export

WORDS = ["graph", "neural", "networks", "protein", "folding", "quantum", "error", "correction", "Bristol", "Zürich",
         "catalysis", "ecology"]


def texts(n: int) -> list[tuple[str, str]]:
    """``n`` (id, text) pairs of varied lengths (some beyond the 16-token limit used here)."""
    rng = np.random.default_rng(0)
    return [(f"t{i}", " ".join(rng.choice(WORDS, size=int(rng.integers(2, 30))))) for i in range(n)]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_export(tmp_path_factory.mktemp("export") / "model")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TextStore:
    return TextStore.from_texts(texts(37), tmp_path_factory.mktemp("texts") / "corpus.arrow")


def test_plan() -> None:
    plan = ShardPlan(10, 4)
    assert len(plan) == 3 and [plan.bounds(k) for k in range(3)] == [(0, 4), (4, 8), (8, 10)]
    assert len(ShardPlan(0, 4)) == 0
    with pytest.raises(IndexError):
        plan.bounds(3)


def test_over_length_count(export: Path) -> None:
    tokenizer = load_exported(export).tokenizer
    items = [text for _, text in texts(20)]
    ids, over = tokenize_counting(tokenizer, items, max_length=16)
    full = [len(seq) for seq in tokenizer(items)["input_ids"]]
    assert over == sum(n > 16 for n in full) > 0
    assert [len(seq) for seq in ids] == [min(n, 16) for n in full]


def test_shards_equal_in_memory_encoding(store: TextStore, export: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = load_exported(export)
    calls = count_encoded(monkeypatch)
    monkeypatch.setattr(shard_encode, "TEXTS_PER_READ", 3)  # a shard's texts read and tokenised 3 at a time
    shards = encode_to_shards(encoder, store, tmp_path / "emb", key="k", max_length=16, shard_size=8, progress=False)
    expected = encode_texts(encoder, store.texts(range(len(store))), max_length=16, progress=False)  # [37, D]
    assert calls == [8, 8, 8, 8, 5]
    assert np.allclose(shards.to_array(), expected, atol=1e-5)
    assert isinstance(shards.shard(0), np.memmap)
    manifest = json.loads((tmp_path / "emb" / "manifest.json").read_text())
    assert manifest["complete"] and [s["rows"] for s in manifest["shards"]] == calls
    assert sum(shards.extra("over_length")) == tokenize_counting(encoder.tokenizer, store.texts(range(37)),
                                                                 max_length=16)[1]
    ShardedEmbeddings.open(tmp_path / "emb", verify=True)
    rows = np.array([5, 0, 36, 5])  # a view of some rows, in its own order
    view = encode_to_shards(encoder, store, tmp_path / "view", key="v", max_length=16, rows=rows, shard_size=3,
                            progress=False)
    assert np.allclose(view.to_array(), expected[rows], atol=1e-5)


def test_interrupted_run_encodes_only_missing_shards(store: TextStore, export: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = load_exported(export)
    calls = count_encoded(monkeypatch)
    original = shard_encode.ShardWriter.write_on_batch_end
    written: list[int] = []

    def killed_after_three(self, trainer, module, prediction, *args):  # type: ignore[no-untyped-def]
        if len(written) == 3:
            raise RuntimeError("killed")
        original(self, trainer, module, prediction, *args)
        written.append(prediction[0].shard)

    monkeypatch.setattr(shard_encode.ShardWriter, "write_on_batch_end", killed_after_three)
    with pytest.raises(RuntimeError, match="killed"):
        encode_to_shards(encoder, store, tmp_path / "emb", key="k", max_length=16, shard_size=8, progress=False)
    manifest = json.loads((tmp_path / "emb" / "manifest.json").read_text())
    assert not manifest["complete"] and len(manifest["shards"]) == 3
    with pytest.raises(ValueError, match="2 of 5 shards still missing"):
        ShardedEmbeddings.open(tmp_path / "emb")
    monkeypatch.setattr(shard_encode.ShardWriter, "write_on_batch_end", original)
    calls.clear()
    shards = encode_to_shards(encoder, store, tmp_path / "emb", key="k", max_length=16, shard_size=8, progress=False)
    assert calls == [8, 5]  # shards 3 and 4 only
    expected = encode_texts(encoder, store.texts(range(len(store))), max_length=16, progress=False)
    assert np.allclose(shards.to_array(), expected, atol=1e-5)
    calls.clear()
    encode_to_shards(encoder, store, tmp_path / "emb", key="other model", max_length=16, shard_size=8, progress=False)
    assert len(calls) == 5  # another key: nothing of the old shards is reused


def _rank(rank: int, port: int, export: str, store: str, out: str, errors) -> None:  # type: ignore[no-untyped-def]
    """One of two DDP ranks, started as a cluster launcher starts them (rank in the environment)."""
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2", "NODE_RANK": "0",
                       "RANK": str(rank), "LOCAL_RANK": str(rank)})
    try:
        import torch

        torch.set_num_threads(1)
        encoder = load_exported(export)
        trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp"}
        original = shard_encode.encode_tokens

        calls = itertools.count()

        def logged(enc, tokens, *args, **kwargs):  # type: ignore[no-untyped-def]
            # a file per call, named by a counter: id(tokens) repeats once a shard's tokens are freed, and two
            # shards of equal length then touched one file (seen on a loaded machine: 4 logs for 5 shards)
            (Path(out) / f"rank{rank}-{len(tokens)}-{os.getpid()}-{next(calls)}").touch()
            return original(enc, tokens, *args, **kwargs)

        shard_encode.encode_tokens = logged
        encode_to_shards(encoder, TextStore(store), Path(out) / "emb", key="k", max_length=16, shard_size=8,
                         trainer=trainer, progress=False)
    except Exception as error:
        errors.put(f"rank {rank}: {type(error).__name__}: {error}")


@pytest.mark.slow
def test_two_ddp_processes_write_the_single_process_shards(store: TextStore, export: Path, tmp_path: Path) -> None:
    run_ranks(_rank, str(export), str(store.path), str(tmp_path))
    logs = [p.name.split("-")[0] for p in tmp_path.iterdir() if p.name.startswith("rank")]
    assert sorted(logs) == ["rank0", "rank0", "rank0", "rank1", "rank1"]  # 5 shards, each encoded once
    single = encode_to_shards(load_exported(export), store, tmp_path / "single", key="k", max_length=16,
                              shard_size=8, progress=False)
    both = ShardedEmbeddings.open(tmp_path / "emb", verify=True)
    assert np.allclose(both.to_array(), single.to_array(), atol=1e-5)


def test_corpus_shards_equal_the_token_store_path(store: TextStore, export: Path, tmp_path: Path) -> None:
    from jobmatch.data.corpus import Corpus
    from jobmatch.retrieval.encode import encode_corpus
    from jobmatch.retrieval.shard_encode import encode_corpus_shards

    encoder = load_exported(export)
    corpus = Corpus(store, rows=[3, 1, 4, 1, 5, 9, 2, 6], ids=[f"c{i}" for i in range(8)], cache_dir=tmp_path)
    plain = encode_corpus(encoder, corpus, max_length=16, progress=False)  # [8, D]
    sharded = encode_corpus_shards(encoder, corpus, tmp_path / "shards", max_length=16, shard_size=3, progress=False)
    assert np.allclose(sharded.to_array(), plain, atol=1e-5)
    assert json.loads((tmp_path / "shards" / "manifest.json").read_text())["count"] == 8


def _index_rank(rank: int, port: int, export: str, corpus: str, out: str, errors) -> None:  # type: ignore[no-untyped-def]
    """One of two DDP ranks of ``jobmatch.index``, started as a cluster launcher starts them."""
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2", "NODE_RANK": "0",
                       "RANK": str(rank), "LOCAL_RANK": str(rank)})
    try:
        import torch

        from jobmatch.serving.indexing import index_talents

        torch.set_num_threads(1)
        index_talents(export, corpus, out, shard_size=2,
                      trainer={"accelerator": "cpu", "devices": 2, "strategy": "ddp"})
    except Exception as error:
        errors.put(f"rank {rank}: {type(error).__name__}: {error}")


@pytest.mark.slow
def test_index_over_two_ddp_processes_equals_one_process(export: Path, tmp_path: Path) -> None:
    from jobmatch.serving.index_store import TalentIndex
    from jobmatch.serving.indexing import index_talents
    from tests.helpers.serving import TALENTS, write_jsonl

    corpus = write_jsonl(tmp_path / "corpus.jsonl", TALENTS)
    run_ranks(_index_rank, str(export), str(corpus), str(tmp_path / "ddp"))
    index_talents(export, corpus, tmp_path / "one", shard_size=2)
    ddp, one = TalentIndex.load(tmp_path / "ddp"), TalentIndex.load(tmp_path / "one")
    assert ddp.ids == one.ids and ddp.manifest.corpus_fingerprint == one.manifest.corpus_fingerprint
    vectors = [np.stack([i.index.reconstruct(r) for r in range(len(TALENTS))]) for i in (ddp, one)]
    assert np.allclose(*vectors, atol=1e-5)
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
