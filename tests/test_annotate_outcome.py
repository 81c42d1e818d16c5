"""Both-order policies, backoff bounds and secret redaction, on hand-picked numbers."""

import random

import pytest

from jobmatch.annotate.credentials import DUMMY_API_KEY, MissingApiKeyError, Redactor, read_api_key
from jobmatch.annotate.outcome import RequestResult, combine_orders, item_outcome
from jobmatch.annotate.retry import Backoff
from jobmatch.data.judgement import Judgement


def j(preferred: str, confidence: int, response: str = "r") -> Judgement:
    return Judgement(preferred, confidence, response)  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", ["agree", "mean"])
def test_agreeing_orders_keep_the_verdict_with_mean_confidence(policy: str) -> None:
    """A 90 and A 71 → A, (90 + 71 + 1) // 2 = 81 (mean rounded half up), under both policies."""
    combined = combine_orders(j("A", 90, "fwd"), j("A", 71, "swp"), policy)  # type: ignore[arg-type]
    assert combined == j("A", 81, "fwd")


def test_disagreement_under_agree_is_dropped() -> None:
    assert combine_orders(j("A", 90), j("B", 70), "agree") is None


def test_disagreement_under_mean_keeps_the_more_confident_with_half_the_gap() -> None:
    """Signed mean: (+90 - 70) / 2 = +10 → A 10; (+55 - 70) / 2 = -7.5 → B 8; (+60 - 60) / 2 = 0 → dropped."""
    assert combine_orders(j("A", 90, "fwd"), j("B", 70, "swp"), "mean") == j("A", 10, "fwd")
    assert combine_orders(j("A", 55, "fwd"), j("B", 70, "swp"), "mean") == j("B", 8, "swp")
    assert combine_orders(j("A", 60), j("B", 60), "mean") is None


def test_swapped_result_maps_labels_back() -> None:
    swapped = RequestResult("h", "ok", j("A", 80, "raw B/A text")).swapped()
    assert swapped.judgement == j("B", 80, "raw B/A text")


def test_item_outcome_reports_the_failing_order() -> None:
    ok = RequestResult("f", "ok", j("A", 80))
    failed = RequestResult("s", "failed", error="HTTP 500")
    outcome = item_outcome(3, ok, failed, "agree")
    assert (outcome.index, outcome.status, outcome.judgement) == (3, "failed", None)
    assert outcome.error == "B/A: HTTP 500"


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    """base 1, max 8: attempt k waits in [c/2, c] with c = min(8, 2^(k-1)); Retry-After 3 lifts it to ≥ 3."""
    backoff = Backoff(base=1.0, max=8.0, rng=random.Random(0))
    for attempt, cap in [(1, 1), (2, 2), (3, 4), (4, 8), (6, 8)]:
        delays = [backoff.delay(attempt) for _ in range(50)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(set(delays)) > 1
    assert backoff.delay(1, retry_after=3.0) >= 3.0
    assert backoff.delay(1, retry_after=100.0) <= 8.0


def test_redactor_removes_keys_and_bearer_tokens() -> None:
    redactor = Redactor("jm-key-0123456789abcdef")
    text = "key jm-key-0123456789abcdef, header Authorization: Bearer xyz987, other sk-proj-abcdef123456"
    scrubbed = redactor.scrub(text)
    for secret in ("jm-key-0123456789abcdef", "xyz987", "sk-proj-abcdef123456"):
        assert secret not in scrubbed
    assert "jm-key" not in repr(redactor)


def test_api_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBMATCH_TEST_UNSET_KEY", raising=False)
    with pytest.raises(MissingApiKeyError, match="JOBMATCH_TEST_UNSET_KEY"):
        read_api_key("JOBMATCH_TEST_UNSET_KEY")
    monkeypatch.setenv("JOBMATCH_TEST_SET_KEY", " secret-value ")
    assert read_api_key("JOBMATCH_TEST_SET_KEY") == "secret-value"
    assert read_api_key(None) == DUMMY_API_KEY
