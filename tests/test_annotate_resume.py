"""A judging run killed with SIGKILL loses no answer it had received, and its rerun asks only what is missing."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from experiments.benchmarks.judge_server import FakeChatServer

ROOT = Path(__file__).resolve().parents[1]
N_ITEMS = 12
SLOW_ITEM = 5

# Judges N_ITEMS pairs against the server at argv[1], caching in argv[2]; prints the summary as JSON.
SCRIPT = """
import json, sys
from jobmatch.annotate.openai_judge import OpenAIJudge
url, cache, n, slow = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
items = [("JD", f"talent {i} [[q={i}]]" + (" [[slowx1]]" if i == slow else ""), "talent x [[q=5]]") for i in range(n)]
judge = OpenAIJudge("fake-judge", base_url=url, api_key_env=None, concurrency=4, timeout=60, cache_path=cache,
                    progress=False)
outcomes = judge.judge_many(items)
print(json.dumps({"summary": judge.last_summary.to_dict(), "statuses": [o.status for o in outcomes]}))
"""


def run_judging(url: str, cache: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", SCRIPT, url, str(cache), str(N_ITEMS), str(SLOW_ITEM)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def cached_lines(cache: Path) -> int:
    return len(cache.read_text().splitlines()) if cache.exists() else 0


def test_resume_after_sigkill(tmp_path: Path) -> None:
    cache = tmp_path / "answers.jsonl"
    with FakeChatServer(latency=0.02, slow_s=60.0) as server:
        first = run_judging(server.url, cache)
        deadline = time.monotonic() + 60
        while cached_lines(cache) < N_ITEMS - 1 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        first.send_signal(signal.SIGKILL)  # every item answered but the slow one, which is in flight
        first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        assert cached_lines(cache) == N_ITEMS - 1
        assert server.requests == N_ITEMS

        second = run_judging(server.url, cache)
        stdout, stderr = second.communicate(timeout=60)
        assert second.returncode == 0, stderr
        report = json.loads(stdout.strip().splitlines()[-1])

    assert report["statuses"] == ["ok"] * N_ITEMS
    summary = report["summary"]
    assert (summary["cached"], summary["answered"], summary["failed"]) == (N_ITEMS - 1, 1, 0)
    assert server.requests == N_ITEMS + 1  # only the request in flight at the kill is asked again
    assert sorted(server.per_prompt.values()) == [1] * (N_ITEMS - 1) + [2]
    assert cached_lines(cache) == N_ITEMS


def test_benchmark_reports_rate_and_cache_savings(tmp_path: Path) -> None:
    from experiments.benchmarks.judge_throughput import run_benchmark

    report = run_benchmark(n_items=16, concurrency=4, latency=0.01, workdir=tmp_path)
    assert report["throughput"]["requests"] == 16 and report["throughput"]["requests_per_s"] > 0
    assert report["resume"] == {"items": 16, "requests_sent": 8, "requests_saved_by_cache": 8}
