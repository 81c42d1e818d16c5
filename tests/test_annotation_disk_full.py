"""A full disk while annotating: the judge cache keeps only whole answers (a torn line is cut off), the
run stops in one line, and the rerun with space asks only what was not cached; data files and results are
replaced whole or not at all."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from experiments.benchmarks.judge_server import FakeChatServer
from jobmatch.annotate.cache import AnswerCache, CachedAnswer, cache_key
from jobmatch.app.annotate_task import run
from jobmatch.app.train_task import train
from jobmatch.data.readers import write_jsonl
from jobmatch.errors import UserError
from jobmatch.utils.atomic import TEMP_SUFFIX, WriteError
from jobmatch.utils.run import write_results
from tests.helpers import FAST, cfg_for, compose_config, split_files

pytestmark = pytest.mark.usefixtures("one_thread")
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def answer(i: int) -> CachedAnswer:
    settings = {"temperature": 0.0}
    return CachedAnswer(key=cache_key(f"p{i}", "m", settings), prompt_sha256=f"p{i}", model="m", settings=settings,
                        response=f"Preferred: A\nConfidence score: {50 + i}", usage={}, finish_reason="stop")


def fill_up(monkeypatch: pytest.MonkeyPatch, name: str, after: int) -> Callable[[], int]:
    """Make writes to the file ``name`` fail with ENOSPC after ``after`` whole writes (the failing write
    lands half of its bytes first, as a real full disk can); returns a counter of the writes tried."""
    real_write = os.write
    tried = [0]

    def write(fd: int, data: bytes) -> int:
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) != name:
            return real_write(fd, data)
        tried[0] += 1
        if tried[0] <= after:
            return real_write(fd, data)
        if len(data) > 1:
            real_write(fd, bytes(data[: len(data) // 2]))
        raise ENOSPC

    monkeypatch.setattr(os, "write", write)
    return lambda: tried[0]


def test_full_disk_cuts_the_torn_answer_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "answers.jsonl"
    cache = AnswerCache(path)
    cache.put(answer(0))
    fill_up(monkeypatch, "answers.jsonl", after=0)
    with pytest.raises(WriteError) as error:
        cache.put(answer(1))
    message = str(error.value)
    assert message.startswith(f"{path}: could not write the judge cache (No space left on device)")
    assert "\n" not in message and isinstance(error.value, UserError)
    monkeypatch.undo()
    cache.put(answer(2))  # space again: the next answer starts on a fresh line
    cache.close()
    assert [json.loads(line)["prompt_sha256"] for line in path.read_text().splitlines()] == ["p0", "p2"]
    assert len(AnswerCache(path)) == 2


@pytest.mark.parametrize("write", [
    lambda path: write_jsonl(path, [{"query": "new"}]),
    lambda path: write_results(path.parent, {"test/x": 1.0}),
])
def test_full_disk_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Callable[[Path], object]
) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"old": true}\n')
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(ENOSPC))
    with pytest.raises(WriteError, match=rf"^{path}: could not write the .*free space on that disk and rerun"):
        write(path)
    assert path.read_text() == '{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    assert not list(tmp_path.glob(f"*{TEMP_SUFFIX}"))


@pytest.fixture(scope="module")
def stage1_ckpt(tmp_path_factory: pytest.TempPathFactory) -> str:
    return train(compose_config(FAST, run_dir=tmp_path_factory.mktemp("stage1") / "run"))["checkpoint/best"]


def test_full_disk_while_judging_stops_in_one_line_and_the_rerun_asks_only_the_rest(
    tmp_path: Path, stage1_ckpt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeChatServer() as server:
        overrides = [f"ckpt={stage1_ckpt}", *split_files(tmp_path), "annotate.pairs_per_query=2",
                     "annotate.test_pairs_per_query=2", "annotate.top_k=10", "judge=local",
                     f"judge.base_url={server.url}", "judge.model=fake-judge", "judge.progress=false",
                     "judge.concurrency=1"]
        fill_up(monkeypatch, "answers.jsonl", after=5)
        with pytest.raises(WriteError, match=r"answers\.jsonl: could not write the judge cache \(No space left"):
            run(cfg_for("annotate", tmp_path, *overrides))
        monkeypatch.undo()
        cache_file = next(tmp_path.rglob("answers.jsonl"))
        assert len(AnswerCache(cache_file)) == 5  # whole answers only: the torn sixth was cut off
        asked = server.requests
        summary = run(cfg_for("annotate", tmp_path, *overrides))
    assert summary["annotate/annotated"] == 24 and summary["judge/cached"] == 5
    assert server.requests == asked + 24 - 5
