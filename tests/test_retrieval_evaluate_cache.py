"""evaluate_encoder with the embedding cache: same metrics, and throughput counts only encoded texts."""

from pathlib import Path

import pytest

from jobmatch.app.builders import container
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.model import TextEncoder
from jobmatch.retrieval.encode import EmbeddingCache
from jobmatch.retrieval.encoder_eval import EncodeSettings, evaluate_encoder
from tests.helpers import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")


def _set() -> RetrievalSet:
    corpus = {f"c{i}": f"talent {i} knows python and sql, {i} years" for i in range(12)}
    queries = {f"q{i}": f"job {i}: data engineer with python" for i in range(3)}
    return RetrievalSet(queries=queries, corpus=corpus, qrels={f"q{i}": {f"c{i}": 1} for i in range(3)})


def test_cache_hits_are_not_counted_as_throughput(tmp_path: Path) -> None:
    encoder = TextEncoder(container(compose_config(["model=tiny_bert"], run_dir=tmp_path).model)).eval()
    cache, rset = EmbeddingCache(tmp_path / "emb"), _set()
    settings = EncodeSettings(max_query_length=16, max_passage_length=16, batch_size=8, progress=False)

    first = evaluate_encoder(encoder, rset, settings, cache=cache, k=5, cutoffs=(1, 5))
    assert not cache.last_hit
    assert first.timings["encoded/corpus"] == 12 and first.timings["encoded/queries"] == 3
    assert first.timings["throughput/texts_per_s"] > 0

    second = evaluate_encoder(encoder, rset, settings, cache=cache, k=5, cutoffs=(1, 5))
    assert cache.last_hit
    assert second.timings["encoded/corpus"] == second.timings["encoded/queries"] == 0
    assert "throughput/texts_per_s" not in second.timings
    assert second.metrics == first.metrics

    fresh_queries = RetrievalSet(queries={"q9": "job 9: analyst"}, corpus=rset.corpus, qrels={"q9": {"c9": 1}})
    third = evaluate_encoder(encoder, fresh_queries, settings, cache=cache, k=5, cutoffs=(1, 5))
    assert third.timings["encoded/corpus"] == 0 and third.timings["encoded/queries"] == 1
    expected = 1 / third.timings["time/encode_queries_s"]
    assert third.timings["throughput/texts_per_s"] == pytest.approx(expected)
