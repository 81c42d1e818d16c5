"""BM25 baseline on a toy corpus: the obvious match first, markup ignored, run format."""

from __future__ import annotations

import pytest

from jobmatch.retrieval.bm25 import bm25_run, strip_markup

CORPUS = {
    "t_nlp": "<keyword> natural language processing <sep> transformers </keyword> <title> Parsing with neural networks "
    "</title> <abstract> We study syntactic parsing of language. </abstract>",
    "t_bio": "<keyword> genomics <sep> protein folding </keyword> <title> Structure of proteins </title>",
    "t_geo": "<keyword> seismology </keyword> <title> Earthquake early warning </title> <abstract> Faults. </abstract>",
}
QUERIES = {
    "jd_nlp": "Postdoc in natural language processing and neural parsing",
    "jd_bio": "Assistant professor of genomics and protein structure",
    "jd_markup": "title keyword abstract sep",
}


def test_obvious_match_ranks_first() -> None:
    run = bm25_run(QUERIES, CORPUS, k=10)
    assert set(run) == set(QUERIES)
    assert max(run["jd_nlp"], key=run["jd_nlp"].get) == "t_nlp"
    assert max(run["jd_bio"], key=run["jd_bio"].get) == "t_bio"
    assert all(isinstance(s, float) and s > 0 for row in run.values() for s in row.values())


def test_markup_tokens_are_not_words() -> None:
    """Every profile has <title>/<keyword>: were they words, this query would match all of them."""
    assert "keyword" not in strip_markup(CORPUS["t_nlp"])
    assert strip_markup("fewer than <5 years") == "fewer than <5 years"
    run = bm25_run(QUERIES, CORPUS, k=10)
    assert run["jd_markup"] == {}


def test_k_caps_the_run() -> None:
    run = bm25_run({"q": "language proteins earthquake"}, CORPUS, k=2)
    assert len(run["q"]) == 2
    assert len(bm25_run({"q": "language proteins earthquake"}, CORPUS, k=50)["q"]) == 3


def test_streamed_index_gives_the_run_of_word_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """The index built a slice at a time (int32 term ids) scores as bm25s indexed from every passage's word list."""
    import bm25s
    import numpy as np

    from jobmatch.retrieval import bm25 as module

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)]
    corpus = {f"c{i}": " ".join(rng.choice(words, size=int(rng.integers(3, 30)))) for i in range(200)}
    queries = {f"q{i}": " ".join(rng.choice(words, size=4)) for i in range(20)}
    seen: list[int] = []
    real = module._tokenize
    monkeypatch.setattr(module, "_tokenize", lambda texts: seen.append(len(texts)) or real(texts))
    monkeypatch.setattr(module, "CHUNK", 64)
    run = module.bm25_run(queries, corpus, k=10)
    assert max(seen[:-1]) == 64 and sum(seen[:-1]) == len(corpus)  # passages tokenised 64 at a time
    retriever = bm25s.BM25(k1=1.5, b=0.75)
    retriever.index(real(list(corpus.values())), show_progress=False)
    ids = list(corpus)
    tokens = [[retriever.vocab_dict[t] for t in q if t in retriever.vocab_dict] for q in real(list(queries.values()))]
    indices, scores = retriever.retrieve(tokens, k=10, show_progress=False)
    expected = {qid: {ids[j]: float(s) for j, s in zip(row, vals, strict=True) if s > 0}
                for qid, row, vals in zip(queries, np.asarray(indices), np.asarray(scores), strict=True)}
    assert run == expected
