"""The JSONL answer cache: durable lines, a torn last line ignored with a warning, keys that track settings."""

import json
import logging
from pathlib import Path

import pytest

from jobmatch.annotate.cache import AnswerCache, CachedAnswer, CacheFormatError, cache_key


def answer(i: int) -> CachedAnswer:
    key = cache_key(f"prompt-{i}", "judge-model", {"temperature": 0.0, "max_tokens": 64})
    return CachedAnswer(
        key=key,
        prompt_sha256=f"prompt-{i}",
        model="judge-model",
        settings={"temperature": 0.0, "max_tokens": 64},
        response=f"Answer {i}.\nPreferred: A\nConfidence score: {50 + i}",
        usage={"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        finish_reason="stop",
    )


def test_key_depends_on_prompt_model_and_settings() -> None:
    base = cache_key("p", "m", {"temperature": 0.0, "max_tokens": 64})
    assert base == cache_key("p", "m", {"max_tokens": 64, "temperature": 0.0})  # order-free
    assert base != cache_key("q", "m", {"temperature": 0.0, "max_tokens": 64})
    assert base != cache_key("p", "m2", {"temperature": 0.0, "max_tokens": 64})
    assert base != cache_key("p", "m", {"temperature": 0.7, "max_tokens": 64})
    assert base != cache_key("p", "m", {"temperature": 0.0, "max_tokens": 128})


def test_answers_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "answers.jsonl"
    with AnswerCache(path) as cache:
        for i in range(3):
            cache.put(answer(i))
    assert len(path.read_text().splitlines()) == 3  # one line per answer, written at once
    reopened = AnswerCache(path)
    assert len(reopened) == 3
    assert reopened.get(answer(1).key) == answer(1)
    assert reopened.get("missing") is None
    reopened.close()


def test_torn_last_line_is_ignored_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "answers.jsonl"
    with AnswerCache(path) as cache:
        cache.put(answer(0))
        cache.put(answer(1))
    line = json.dumps({"key": answer(2).key, "response": "Preferred: B"})
    with path.open("a") as file:
        file.write(line[: len(line) // 2])  # killed mid-write: no newline
    with caplog.at_level(logging.WARNING), AnswerCache(path) as cache:
        assert len(cache) == 2
        assert "truncated last line" in caplog.text
        cache.put(answer(3))  # appends start on a fresh line
    with AnswerCache(path) as cache:
        assert sorted(cache.get(answer(i).key) is not None for i in (0, 1, 3)) == [True, True, True]
        assert len(cache) == 3


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text(json.dumps(answer(0).__dict__) + "\n{oops}\n" + json.dumps(answer(1).__dict__) + "\n")
    with pytest.raises(CacheFormatError, match=":2:"):
        AnswerCache(path)
