"""Training data by reference: texts stored once on disk, rows hold store rows, token ids from cached int32 stores.

The reference path below is the one the DataModule took when it held every distinct text in memory and
tokenised it: read the file with texts, tokenise each distinct text, sample with the same seeded draw, and
collate. The DataModule must give the same batches in the same order, so that a run's losses and metrics
are the same.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import jobmatch.data.token_store as token_store_module
from jobmatch.app.builders import container
from jobmatch.data.collate import ContrastiveBatch, ContrastiveCollator
from jobmatch.data.datamodule import PairDataModule, split_holdout
from jobmatch.data.readers import DataFormatError, read_contrastive
from jobmatch.data.records import ContrastiveRecord
from jobmatch.model.tokenizer import tokenize
from tests.helpers import compose_config

SETTINGS = {"val_fraction": 0.3, "n_negatives": 2, "seed": 3, "batch_size": 4, "max_passage_length": 48,
            "max_query_length": 32}


def model_cfg() -> dict[str, Any]:
    return container(compose_config(["model=tiny_bert"]).model)


def datamodule(train: Path, tmp_path: Path, **kwargs: Any) -> PairDataModule:
    dm = PairDataModule(model=model_cfg(), train_file=str(train), cache_dir=str(tmp_path / "cache"),
                        **{**SETTINGS, **kwargs})
    dm.setup("fit")
    return dm


def reference_batches(dm: PairDataModule, records: list[ContrastiveRecord], epoch: int) -> list[ContrastiveBatch]:
    """The in-memory path: each text tokenised, the seeded draw of (seed, epoch, index), the sampler's order."""

    def ids(texts: tuple[str, ...] | list[str], limit: int) -> list[list[int]]:
        return tokenize(dm.tokenizer, list(texts), max_length=limit)

    collate = ContrastiveCollator(dm.tokenizer.pad_token_id, dm.tokenizer.padding_side, dm.pad_to_multiple_of)
    examples = []
    for index, record in enumerate(records):
        rng = np.random.default_rng((SETTINGS["seed"], epoch, index))
        group = [record.positives[int(rng.integers(len(record.positives)))]]
        group += [record.negatives[int(i)] for i in rng.choice(len(record.negatives), size=2, replace=False)]
        examples.append((ids([record.query], 32)[0], ids(group, 48), ids(record.positives, 48)))
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)  # type: ignore[union-attr]
    order = [index for index, _ in loader.sampler]  # type: ignore[union-attr]
    return [collate([examples[i] for i in order[s : s + 4]]) for s in range(0, len(order), 4)]


def assert_same_batch(a: ContrastiveBatch, b: ContrastiveBatch) -> None:
    for name in ("input_ids", "attention_mask"):
        assert torch.equal(getattr(a.query, name), getattr(b.query, name))
        assert torch.equal(getattr(a.passages, name), getattr(b.passages, name))
    assert torch.equal(a.slots, b.slots) and a.group_size == b.group_size
    assert torch.equal(a.passage_keys, b.passage_keys) and torch.equal(a.positive_keys, b.positive_keys)


@pytest.mark.parametrize("epoch", [0, 1])
def test_batches_equal_the_in_memory_path(tmp_path: Path, tiny_data: Path, epoch: int) -> None:
    dm = datamodule(tiny_data, tmp_path)
    train, _ = split_holdout(read_contrastive(tiny_data), SETTINGS["val_fraction"], SETTINGS["seed"])
    expected = reference_batches(dm, train, epoch)
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)  # type: ignore[union-attr]
    got = list(loader)
    assert len(got) == len(expected) > 1
    for a, b in zip(got, expected, strict=True):
        assert_same_batch(a, b)


def test_stage1_loss_equals_the_in_memory_path(tmp_path: Path, tiny_data: Path) -> None:
    from experiments.benchmarks.unique_texts import cpu_trainer
    from jobmatch.modules.contrastive import ContrastiveModule

    dm = datamodule(tiny_data, tmp_path)
    train, _ = split_holdout(read_contrastive(tiny_data), SETTINGS["val_fraction"], SETTINGS["seed"])
    torch.manual_seed(0)
    module = ContrastiveModule(model_cfg(), {"lr": 1e-3, "weight_decay": 0.0, "warmup_ratio": 0.0, "min_lr_ratio": 0.0},
                               temperature=0.05).eval()
    module.trainer = cpu_trainer()
    for a, b in zip(dm.train_dataloader(), reference_batches(dm, train, 0), strict=True):
        with torch.no_grad():
            assert torch.equal(module.contrastive_loss(a)[0], module.contrastive_loss(b)[0])


def walk(obj: Any, seen: set[int] | None = None, depth: int = 0) -> Any:
    """Every object reachable from ``obj`` through attributes, slots and containers (not into numpy arrays)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 8 or isinstance(obj, np.ndarray | torch.Tensor | type):
        return
    seen.add(id(obj))
    yield obj
    if isinstance(obj, dict):
        children: Any = itertools.chain(obj.keys(), obj.values())
    elif isinstance(obj, list | tuple | set | frozenset):
        children = obj
    else:
        children = [getattr(obj, n) for n in (*getattr(obj, "__slots__", ()), *getattr(obj, "__dict__", {}))
                    if hasattr(obj, n)]
    for child in children:
        yield from walk(child, seen, depth + 1)


def test_datasets_hold_no_texts(tmp_path: Path, tiny_data: Path) -> None:
    dm = datamodule(tiny_data, tmp_path)
    texts = {t for r in read_contrastive(tiny_data) for t in (r.query, *r.positives, *r.negatives)}
    for held in (dm.train_set, dm.val_set, dm.train_dataloader()):
        found = [o for o in walk(held) if isinstance(o, str) and o in texts]
        assert not found, found[:1]
    assert all(isinstance(ids, np.ndarray) and ids.dtype == np.int32 for ids in dm.train_set[0, 0][1])


def test_tokenised_once_per_tokenizer_and_limit(tmp_path: Path, tiny_data: Path, monkeypatch) -> None:
    calls: list[int] = []
    real = token_store_module.tokenize

    def counting(tokenizer: Any, texts: Any, **kwargs: Any) -> Any:
        calls.append(len(texts))
        return real(tokenizer, texts, **kwargs)

    monkeypatch.setattr(token_store_module, "tokenize", counting)
    datamodule(tiny_data, tmp_path)
    first = len(calls)
    assert first == 2  # JDs, talents
    datamodule(tiny_data, tmp_path)  # same files, tokenizer and limits: found in the cache
    assert len(calls) == first
    datamodule(tiny_data, tmp_path, max_passage_length=40)  # another limit: the talents again, not the JDs
    assert len(calls) == first + 1


def id_files(tiny_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The fixture as a corpus file plus id rows ``{query_id, query, positive_ids, negative_ids}``."""
    records = read_contrastive(tiny_data)
    texts = list(dict.fromkeys(t for r in records for t in (*r.positives, *r.negatives)))
    corpus, train = tmp_path / "corpus.jsonl", tmp_path / "train_ids.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    index = {t: f"t{i}" for i, t in enumerate(texts)}
    train.write_text("".join(json.dumps({"query_id": f"jd{n}", "query": r.query,
                                         "positive_ids": [index[t] for t in r.positives],
                                         "negative_ids": [index[t] for t in r.negatives]}) + "\n"
                             for n, r in enumerate(records)))
    return corpus, train


def test_id_rows_give_the_batches_of_text_rows(tmp_path: Path, tiny_data: Path) -> None:
    corpus, train = id_files(tiny_data, tmp_path)
    by_text = datamodule(tiny_data, tmp_path / "a", corpus_file=str(corpus))
    by_id = datamodule(train, tmp_path / "b", corpus_file=str(corpus))
    assert len(by_id.passages.interner) == 0  # every talent is a corpus row: none copied  # type: ignore[union-attr]
    for a, b in zip(by_text.train_dataloader(), by_id.train_dataloader(), strict=True):
        assert_same_batch(a, b)
    text_set, id_set = by_text.val_retrieval, by_id.val_retrieval
    assert text_set is not None and id_set is not None
    assert list(text_set.queries.values()) == list(id_set.queries.values())
    assert list(text_set.qrels.values()) == list(id_set.qrels.values())


def test_id_row_errors_name_file_and_line(tmp_path: Path, tiny_data: Path) -> None:
    corpus, train = id_files(tiny_data, tmp_path)
    lines = train.read_text().splitlines()
    bad = json.loads(lines[2])
    bad["negative_ids"][1] = "nobody"
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([*lines[:2], json.dumps(bad), *lines[3:]]) + "\n")
    with pytest.raises(DataFormatError, match=r"broken.jsonl:3: talent id 'nobody' is not in the corpus file"):
        datamodule(broken, tmp_path / "x", corpus_file=str(corpus))
    with pytest.raises(DataFormatError, match=r"train_ids.jsonl:1: .*no corpus file"):
        datamodule(train, tmp_path / "y")


def test_preference_id_rows_give_the_batches_of_text_rows(tmp_path: Path) -> None:
    from tests.helpers import FIXTURES

    pairs = FIXTURES / "preferences_tiny.jsonl"
    rows = [json.loads(line) for line in pairs.read_text().splitlines()]
    texts = list(dict.fromkeys(t for r in rows for t in (r["passage1"], r["passage2"])))
    index = {t: f"t{i}" for i, t in enumerate(texts)}
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": cid, "text": t}) + "\n" for t, cid in index.items()))
    by_id = tmp_path / "pairs_ids.jsonl"
    by_id.write_text("".join(json.dumps({"query": r["query"], "passage_id1": index[r["passage1"]],
                                         "passage_id2": index[r["passage2"]], "preferred": r["preferred"]}) + "\n"
                             for r in rows))

    def preference_dm(path: Path, name: str, **kwargs: Any) -> PairDataModule:
        dm = PairDataModule(model=model_cfg(), mode="preference", preference_train_file=str(path),
                            cache_dir=str(tmp_path / name), batch_size=4, **kwargs)
        dm.setup("fit")
        return dm

    a, b = preference_dm(pairs, "a"), preference_dm(by_id, "b", corpus_file=str(corpus))
    assert [(r.chosen, r.rejected) for r in a.preference_records()] == [
        (r.chosen, r.rejected) for r in b.preference_records()]
    for x, y in zip(a.train_dataloader(), b.train_dataloader(), strict=True):
        assert torch.equal(x.talents.input_ids, y.talents.input_ids) and torch.equal(x.index, y.index)
    assert "passage1" not in b.preference_records()[0].by_id().to_json()
    with pytest.raises(DataFormatError, match="no corpus file"):
        preference_dm(by_id, "c")


def test_id_rows_export_to_the_reference_format(tmp_path: Path, tiny_data: Path, capsys) -> None:
    from jobmatch.data.inline import main

    corpus, train = id_files(tiny_data, tmp_path)
    out = tmp_path / "texts.jsonl"
    assert main(["--corpus", str(corpus), "--rows", str(train), "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    back, original = read_contrastive(out), read_contrastive(tiny_data)
    assert [(r.query, r.positives, r.negatives) for r in back] == [
        (r.query, r.positives, r.negatives) for r in original]
    assert back[0].positive_ids and not back[0].is_id_row
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"query": "jd", "positive_ids": ["nobody"], "negative_ids": []}) + "\n")
    assert main(["--corpus", str(corpus), "--rows", str(bad), "--out", str(tmp_path / "x.jsonl"),
                 "--cache-dir", str(tmp_path / "cache")]) == 2
    assert "'nobody' is not in the corpus" in capsys.readouterr().err.splitlines()[-1]


def test_validation_set_equals_the_in_memory_path(tmp_path: Path, tiny_data: Path) -> None:
    from jobmatch.data.retrieval_set import build_retrieval_set

    dm = datamodule(tiny_data, tmp_path)
    train, val = split_holdout(read_contrastive(tiny_data), SETTINGS["val_fraction"], SETTINGS["seed"])
    expected = build_retrieval_set(val, None, train, cache_dir=tmp_path / "ref")
    got = dm.val_retrieval
    assert got is not None
    assert got.queries == expected.queries and got.qrels == expected.qrels
    assert got.corpus.ids == expected.corpus.ids and list(got.corpus.values()) == list(expected.corpus.values())
    test = dm.retrieval_set(val)  # records read later (a test file): their passages, then the training rows
    assert test.corpus.ids == expected.corpus.ids and list(test.corpus.values()) == list(expected.corpus.values())
