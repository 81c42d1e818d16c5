"""FAISS search: exactness of flat, recall of ivf/hnsw against it, seeded ivf, run conversion."""

from __future__ import annotations

import numpy as np
import pytest

from jobmatch.retrieval.search import build_index, choose_index_kind, recall_against_exact, search, to_run


def normalised(n: int, dim: int, seed: int) -> np.ndarray:
    """[n, dim] random unit vectors (float32)."""
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def corpus() -> np.ndarray:
    return normalised(2000, 64, seed=0)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return normalised(100, 64, seed=1)


@pytest.fixture(scope="module")
def exact(corpus: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return search(build_index(corpus, "flat", threads=1), queries, 10)


def test_flat_equals_brute_force(corpus: np.ndarray, queries: np.ndarray, exact: tuple[np.ndarray, np.ndarray]) -> None:
    sims = queries @ corpus.T  # [Q, N]
    expected = np.argsort(-sims, axis=1)[:, :10]
    scores, indices = exact
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(sims, expected, axis=1), atol=1e-5)


# isotropic random vectors are IVF's worst case (no clusters): it needs most cells probed here
@pytest.mark.parametrize(("kind", "params"), [("ivf", {"nlist": 32, "nprobe": 24}), ("hnsw", {})])
def test_approximate_recall(
    kind: str, params: dict[str, int], corpus: np.ndarray, queries: np.ndarray, exact: tuple[np.ndarray, np.ndarray]
) -> None:
    _, indices = search(build_index(corpus, kind, threads=1, **params), queries, 10)
    assert recall_against_exact(indices, exact[1], 10) >= 0.9


def test_ivf_is_deterministic_for_a_seed(corpus: np.ndarray, queries: np.ndarray) -> None:
    def centroids_and_hits(seed: int) -> tuple[np.ndarray, np.ndarray]:
        index = build_index(corpus, "ivf", nlist=16, nprobe=2, seed=seed, threads=1)
        return index.quantizer.reconstruct_n(0, 16), search(index, queries, 10)[1]

    first, again, other = centroids_and_hits(3), centroids_and_hits(3), centroids_and_hits(4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_to_run_skips_missing_results() -> None:
    passages = np.eye(3, 4, dtype=np.float32)  # 3 unit vectors
    scores, indices = search(build_index(passages), passages[:2], 5)
    assert (indices[:, 3:] == -1).all()
    run = to_run(["q0", "q1"], ["a", "b", "c"], scores, indices)
    assert run == {"q0": {"a": 1.0, "b": 0.0, "c": 0.0}, "q1": {"b": 1.0, "a": 0.0, "c": 0.0}}
    assert next(iter(run["q1"])) == "b"


def test_recall_against_exact_by_hand() -> None:
    """Query 0 finds 1 of {1, 2}: 0.5; query 1 finds its only valid exact hit: 1. Mean 0.75."""
    approx = np.array([[1, 5, 7], [4, -1, -1]])
    exact = np.array([[2, 1, 9], [4, -1, -1]])
    assert recall_against_exact(approx, exact, 2) == pytest.approx(0.75)


def test_choose_index_kind_and_errors() -> None:
    assert choose_index_kind(100_000) == "flat"
    assert choose_index_kind(100_001) == "hnsw"
    assert choose_index_kind(1_000_000) == "hnsw"
    assert choose_index_kind(500, threshold=100) == "hnsw"
    with pytest.raises(ValueError, match="unknown index kind"):
        build_index(np.eye(2, dtype=np.float32), "lsh")
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        build_index(np.ones(4, dtype=np.float32))
