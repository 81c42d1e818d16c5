"""OpenAIJudge against a real HTTP server on 127.0.0.1: retries, failures, concurrency, both orders, cache, secrets."""

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from experiments.benchmarks.judge_server import FakeChatServer
from jobmatch.annotate.credentials import MissingApiKeyError
from jobmatch.annotate.openai_judge import JudgeRequestError, OpenAIJudge
from jobmatch.data.judgement import Judge

JD = "Postdoc in computational neuroscience, Lyon: spiking network models and calcium imaging."
FAST = {"timeout": 0.3, "max_attempts": 3, "backoff_base": 0.01, "backoff_max": 0.02, "progress": False}


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    with FakeChatServer(hang_s=1.0) as running:
        yield running


def make_judge(server: FakeChatServer, **overrides: Any) -> OpenAIJudge:
    options = {"model": "fake-judge", "base_url": server.url, "api_key_env": None, **FAST, **overrides}
    return OpenAIJudge(**options)


def pair(marker_a: str = "", marker_b: str = "", qa: int = 70, qb: int = 50) -> tuple[str, str, str]:
    return (JD, f"Talent one [[q={qa}]] {marker_a}", f"Talent two [[q={qb}]] {marker_b}")


def test_is_a_judge_and_judges_one_pair(server: FakeChatServer) -> None:
    judge = make_judge(server)
    assert isinstance(judge, Judge) and judge.name == "fake-judge"
    judgement = judge.judge(*pair(qa=40, qb=75))
    assert (judgement.preferred, judgement.confidence_score) == ("B", 85)
    assert judgement.response.rstrip().endswith("Confidence score: 85")
    assert server.authorizations == {"Bearer EMPTY"}  # api_key_env: null sends a dummy key


def test_transient_errors_are_retried_until_success(server: FakeChatServer) -> None:
    judge = make_judge(server)
    items = [pair("[[429x2]]"), pair("[[500x1]]"), pair("[[hangx1]]"), pair("[[bold]]")]
    outcomes = judge.judge_many(items)
    assert [o.status for o in outcomes] == ["ok"] * 4
    assert [o.forward.attempts for o in outcomes] == [3, 2, 2, 1]
    assert server.requests == 3 + 2 + 2 + 1
    summary = judge.last_summary
    assert summary is not None and (summary.answered, summary.failed, summary.retries) == (4, 0, 4)


def test_give_up_after_max_attempts_and_continue(server: FakeChatServer) -> None:
    judge = make_judge(server)
    items = [pair("[[500x9]]"), pair(), pair("[[echo-auth]]"), pair("[[garbage]]"), pair("[[badjson]]")]
    outcomes = judge.judge_many(items)
    assert [o.status for o in outcomes] == ["failed", "ok", "failed", "unparseable", "failed"]
    assert outcomes[0].forward.attempts == 3 and "HTTP 500" in (outcomes[0].error or "")
    assert outcomes[2].forward.attempts == 1 and "HTTP 401" in (outcomes[2].error or "")  # not retryable
    assert outcomes[3].forward.response is not None and "cannot decide" in outcomes[3].forward.response
    assert outcomes[4].forward.attempts == 3 and "not JSON" in (outcomes[4].error or "")
    assert server.requests == 3 + 1 + 1 + 1 + 3
    summary = judge.last_summary
    assert summary is not None
    assert (summary.requested, summary.answered, summary.failed, summary.unparseable) == (5, 2, 3, 1)
    with pytest.raises(JudgeRequestError, match="failed"):
        judge.judge(*pair("[[500x9]]", qa=1))


def test_binary_garbage_answer_is_a_failed_request_not_a_crash(server: FakeChatServer) -> None:
    """A server answering bytes that are not UTF-8: retried, then recorded as failed in one line."""
    outcomes = make_judge(server).judge_many([pair("[[binary]]"), pair()])
    assert [o.status for o in outcomes] == ["failed", "ok"]
    assert outcomes[0].forward.attempts == 3 and "not even UTF-8" in (outcomes[0].error or "")
    assert "\n" not in (outcomes[0].error or "")


def test_concurrency_is_bounded_and_used() -> None:
    with FakeChatServer(latency=0.1) as server:
        # a generous timeout: on a busy machine a 0.1 s reply can exceed FAST's 0.3 s and be retried
        judge = make_judge(server, concurrency=4, timeout=5.0)
        outcomes = judge.judge_many([pair(qa=i) for i in range(16)])
    assert all(o.status == "ok" for o in outcomes)
    assert server.requests == 16
    assert 1 < server.max_in_flight <= 4


def test_both_orders_agreement(server: FakeChatServer) -> None:
    """Honest pair: A/B says A 70, B/A says (its B =) A 70 → A 70. Biased pair (A worse, q 40 vs 60):
    A/B says A 55 (bias), B/A says B 70 → agree drops it; mean keeps B with (70 - 55 + 1) // 2 = 8."""
    items = [pair(qa=80, qb=60), pair("[[biasA]]", qa=40, qb=60)]
    agree = make_judge(server, both_orders=True).judge_many(items)
    assert server.requests == 4
    assert [o.status for o in agree] == ["ok", "disagreed"]
    assert agree[0].judgement is not None and (agree[0].judgement.preferred, agree[0].judgement.confidence_score) == (
        "A",
        70,
    )
    assert [o.agreed for o in agree] == [True, False]
    mean_judge = make_judge(server, both_orders=True, order_policy="mean")
    mean = mean_judge.judge_many(items)
    assert mean[1].status == "ok" and mean[1].judgement is not None
    assert (mean[1].judgement.preferred, mean[1].judgement.confidence_score) == ("B", 8)
    assert mean_judge.last_summary is not None and mean_judge.last_summary.agreement_rate == 0.5


def test_cache_second_run_makes_no_requests(server: FakeChatServer, tmp_path: Path) -> None:
    cache = tmp_path / "answers.jsonl"
    items = [pair(qa=i) for i in range(6)] + [pair("[[garbage]]"), pair("[[500x99]]")]
    first = make_judge(server, cache_path=str(cache), price_prompt_per_1m=0.27, price_completion_per_1m=1.1)
    before = first.judge_many(items)
    first.close()
    assert first.last_summary is not None and first.last_summary.cost is not None
    assert first.last_summary.cost > 0
    assert len(cache.read_text().splitlines()) == 7  # unparseable answers are cached too; failures are not
    asked = server.requests
    second = make_judge(server, cache_path=str(cache), retry_unparseable=False)
    after = second.judge_many(items)
    assert server.requests - asked == 3  # only the failed item is asked again (max_attempts=3)
    assert [o.status for o in after] == [o.status for o in before]
    assert [o.judgement for o in after] == [o.judgement for o in before]
    summary = second.last_summary
    assert summary is not None
    assert (summary.cached, summary.answered, summary.failed, summary.prompt_tokens) == (7, 0, 1, 0)
    third = make_judge(server, cache_path=str(cache), temperature=0.7)  # other settings: other answers
    third.judge_many(items[:1])
    assert third.last_summary is not None and third.last_summary.answered == 1


def test_missing_key_names_the_variable(server: FakeChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBMATCH_TEST_ABSENT_KEY", raising=False)
    with pytest.raises(MissingApiKeyError, match="JOBMATCH_TEST_ABSENT_KEY"):
        make_judge(server, api_key_env="JOBMATCH_TEST_ABSENT_KEY")


def test_api_key_never_written(
    server: FakeChatServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    key = "jm-test-key-7f3a9c1e5b2d4e6f8a0b"
    monkeypatch.setenv("JOBMATCH_TEST_JUDGE_KEY", key)
    for name in ("", "openai", "httpx2", "httpcore", "httpcore2", "jobmatch"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    log_file = tmp_path / "run.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        judge = make_judge(
            server, api_key_env="JOBMATCH_TEST_JUDGE_KEY", cache_path=str(tmp_path / "answers.jsonl"), progress=True
        )
        items = [pair(), pair("[[echo-auth]]"), pair("[[500x9]]"), pair("[[garbage]]"), pair("[[hangx1]]")]
        outcomes = judge.judge_many(items)
        with pytest.raises(JudgeRequestError) as caught:
            judge.judge(*items[1])
        logging.getLogger("test").error("judge failed: %s / %r / %r", caught.value, caught.value, judge)
        (tmp_path / "outcomes.jsonl").write_text("".join(json.dumps(o.to_dict()) + "\n" for o in outcomes))
        (tmp_path / "summary.json").write_text(json.dumps(judge.last_summary.to_dict() if judge.last_summary else {}))
        judge.close()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert f"Bearer {key}" in server.authorizations  # the key was really sent, and echoed back once
    written = {path.name: path.read_text() for path in tmp_path.iterdir() if path.is_file()}
    assert {"answers.jsonl", "outcomes.jsonl", "summary.json", "run.log"} <= set(written)
    assert "HTTP 401" in written["outcomes.jsonl"]
    out, err = capfd.readouterr()
    for where, text in {**written, "caplog": caplog.text, "stdout": out, "stderr": err}.items():
        assert key not in text, f"API key leaked into {where}"
        assert key[:16] not in text, f"part of the API key leaked into {where}"


def test_unparseable_answers_are_asked_again_once_the_judge_is_fixed(server: FakeChatServer, tmp_path: Path) -> None:
    cache = tmp_path / "answers.jsonl"
    items = [pair(qa=i) for i in range(3)]
    server.broken = True  # a misconfigured judge: answers, but never a verdict
    with make_judge(server, cache_path=str(cache)) as broken:
        assert {o.status for o in broken.judge_many(items)} == {"unparseable"}
    with make_judge(server, cache_path=str(cache), retry_unparseable=False) as kept:
        assert {o.status for o in kept.judge_many(items)} == {"unparseable"}  # served from the cache
        assert kept.last_summary is not None and (kept.last_summary.cached, kept.last_summary.reasked) == (3, 0)
    server.broken = False
    asked = server.requests
    with make_judge(server, cache_path=str(cache)) as fixed:
        assert {o.status for o in fixed.judge_many(items)} == {"ok"}
        assert fixed.last_summary is not None and fixed.last_summary.reasked == 3
    assert server.requests - asked == 3
    with make_judge(server, cache_path=str(cache)) as again:  # the newer, parsed answers win in the cache
        assert {o.status for o in again.judge_many(items)} == {"ok"}
    assert server.requests - asked == 3
