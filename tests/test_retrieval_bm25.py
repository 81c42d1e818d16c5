"""BM25 baseline on a toy corpus: the obvious match first, markup ignored, run format."""

from __future__ import annotations

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
