"""Hard-negative mining: window, positives and query dropped, guard, strategies, too-few, rounds."""

import logging

import numpy as np
import pytest

from jobmatch.data.records import ContrastiveRecord
from jobmatch.data.retrieval_set import build_retrieval_set
from jobmatch.retrieval.mining import MiningConfig, cluster_weights, combine_rounds, mine_negatives


def toy(n_corpus: int = 30, dim: int = 8, seed: int = 0):
    """One query; corpus row j scores (n_corpus - j)/n_corpus, so rank == row. Rows 0 and 3 are positives."""
    corpus = {f"c{j}": f"talent {j}" for j in range(n_corpus)}
    corpus["c5"] = "the JD text"  # the query itself sits in the corpus at rank 5
    record = ContrastiveRecord(query="the JD text", positives=("talent 0", "talent 3"), negatives=("talent 29",),
                               query_id="q0", positive_ids=("c0", "c3"))
    rset = build_retrieval_set([record], corpus)
    scores = np.linspace(1.0, 0.0, n_corpus, endpoint=False, dtype=np.float32)[None, :]  # [1, N]
    ranked = np.arange(n_corpus)[None, :]
    rng = np.random.default_rng(seed)
    corpus_emb = rng.normal(size=(n_corpus, dim)).astype(np.float32)
    query_emb = rng.normal(size=(1, dim)).astype(np.float32)
    return [record], rset, query_emb, corpus_emb, ranked, scores


def test_topk_skips_positives_and_query_text() -> None:
    records, rset, q, c, ranked, scores = toy()
    cfg = MiningConfig(n_negatives=4, strategy="topk", margin=None)
    mined, stats = mine_negatives(records, rset, q, c, ranked, scores, cfg, round_index=2)
    assert mined[0].negative_ids == ("c1", "c2", "c4", "c6")
    assert mined[0].negative_rounds == (2, 2, 2, 2)
    assert mined[0].positives == records[0].positives
    assert stats.to_dict()["mining/mean_rank"] == pytest.approx((1 + 2 + 4 + 6) / 4)


def test_window_and_sample_are_seeded() -> None:
    records, rset, q, c, ranked, scores = toy()
    cfg = MiningConfig(window_start=10, window_end=30, n_negatives=5, strategy="sample", margin=None, seed=3)
    first = mine_negatives(records, rset, q, c, ranked, scores, cfg, 1)[0][0].negative_ids
    again = mine_negatives(records, rset, q, c, ranked, scores, cfg, 1)[0][0].negative_ids
    other = mine_negatives(records, rset, q, c, ranked, scores, MiningConfig(
        window_start=10, window_end=30, n_negatives=5, strategy="sample", margin=None, seed=4), 1)[0][0].negative_ids
    assert first == again and first != other
    assert all(10 <= int(cid[1:]) < 30 for cid in first)


def test_guard_drops_candidates_close_to_the_positive() -> None:
    records, rset, q, c, ranked, scores = toy()
    # Make the positives' mean model score 0.5: candidates scoring above 0.9 × 0.5 = 0.45 are dropped.
    c[0] = q[0] / np.linalg.norm(q[0]) * 0.5 / np.linalg.norm(q[0])
    c[3] = c[0]
    cfg = MiningConfig(n_negatives=3, strategy="topk", margin=0.9)
    mined, stats = mine_negatives(records, rset, q, c, ranked, scores, cfg, 1)
    kept_scores = [scores[0, int(cid[1:])] for cid in mined[0].negative_ids]
    assert all(s <= 0.45 for s in kept_scores)
    assert stats.dropped_by_guard == int((scores[0] > 0.45).sum()) - 3  # minus 2 positives and the query


def test_too_few_candidates_keep_previous_negatives(caplog: pytest.LogCaptureFixture) -> None:
    records, rset, q, c, ranked, scores = toy(n_corpus=8)
    with caplog.at_level(logging.WARNING):
        mined, stats = mine_negatives(records, rset, q, c, ranked, scores, MiningConfig(n_negatives=6, margin=None), 1)
    assert mined[0] == records[0]
    assert stats.too_few == ["q0"]
    assert "fewer than 6 candidates" in caplog.text


def test_cluster_weights_follow_lambda_powers() -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[10.0, 0], [0, 10.0]])
    emb = np.concatenate([centers[[0, 0, 1, 0, 1]] + rng.normal(scale=0.01, size=(5, 2))]).astype(np.float32)
    weights = cluster_weights(emb, n_clusters=2, lam=0.5, seed=0)
    assert weights.tolist() == [1.0, 0.5, 1.0, 0.25, 0.5]


def test_cluster_strategy_picks_from_the_window() -> None:
    records, rset, q, c, ranked, scores = toy()
    cfg = MiningConfig(n_negatives=5, strategy="cluster", n_clusters=3, margin=None)
    mined, _ = mine_negatives(records, rset, q, c, ranked, scores, cfg, 1)
    ids = mined[0].negative_ids
    assert len(set(ids)) == 5 and not {"c0", "c3", "c5"} & set(ids)


def test_combine_rounds_union_dedup_with_round_tags() -> None:
    base = ContrastiveRecord(query="q", positives=("p",), negatives=("a", "b"))
    mined = ContrastiveRecord(query="q", positives=("p",), negatives=("b", "c"), negative_rounds=(1, 1))
    union = combine_rounds([base], [mined])[0]
    assert union.negatives == ("a", "b", "c")
    assert union.negative_rounds == (0, 0, 1)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="strategy"):
        MiningConfig(strategy="best")
    with pytest.raises(ValueError, match="window"):
        MiningConfig(window_start=50, window_end=10)


def test_mined_id_rows_name_talents_by_id_and_read_back(tmp_path) -> None:
    from jobmatch.data.readers import read_contrastive, write_jsonl

    records, rset, q, c, ranked, scores = toy()
    cfg = MiningConfig(n_negatives=4, strategy="topk", margin=None)
    mined, _ = mine_negatives(records, rset, q, c, ranked, scores, cfg, round_index=1, with_texts=False)
    row = mined[0].to_json()
    assert "positives" not in row and "negatives" not in row  # no talent text copied
    assert (row["positive_ids"], row["negative_ids"]) == (["c0", "c3"], ["c1", "c2", "c4", "c6"])
    write_jsonl(tmp_path / "mined.jsonl", [row])
    back = read_contrastive(tmp_path / "mined.jsonl")[0]
    assert back.is_id_row and back.negative_ids == ("c1", "c2", "c4", "c6") and back.query == "the JD text"
    with_texts, _ = mine_negatives(records, rset, q, c, ranked, scores, cfg, round_index=1)
    assert with_texts[0].negatives == ("talent 1", "talent 2", "talent 4", "talent 6")  # the reference format


def test_combine_rounds_by_id_gives_an_id_row() -> None:
    base = ContrastiveRecord(query="q", positives=("p",), negatives=("a", "b"), positive_ids=("P",),
                             negative_ids=("A", "B"))
    mined = ContrastiveRecord(query="q", positives=(), negatives=(), positive_ids=("P",), negative_ids=("B", "C"),
                              negative_rounds=(1, 1))
    union = combine_rounds([base], [mined])[0]
    assert union.is_id_row and union.negative_ids == ("A", "B", "C") and union.negative_rounds == (0, 0, 1)
    with pytest.raises(ValueError, match="negative_ids"):
        combine_rounds([ContrastiveRecord(query="q", positives=("p",), negatives=("a",))], [mined])
