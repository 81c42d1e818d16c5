"""Measure the judge's throughput and the cache's savings against the local fake server (no network).

    python -m experiments.benchmarks judge_throughput                   # in make bench: 400 items, concurrency 8, 50 ms
    python -m experiments.benchmarks.judge_throughput --items 1000 --concurrency 16 --latency 0.2

Reports requests per second at ``--concurrency`` (the ceiling is concurrency / latency) and, for
reference, with one worker; then a resumed run: an interrupted first run that got through half of
the items, rerun on all of them — the requests the rerun sends and those the cache saves.
Every answer goes through the real client, HTTP and the fsynced cache, as in a real run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from experiments.benchmarks.common import bench_result, target
from experiments.benchmarks.judge_server import FakeChatServer
from jobmatch.annotate.openai_judge import Item, OpenAIJudge

ITEMS, CONCURRENCY, LATENCY = 400, 8, 0.05


def items(n: int) -> list[Item]:
    """``n`` distinct (JD, A, B) items with quality markers the fake server judges by."""
    return [(f"JD {i % 7}", f"talent {i} [[q={i % 100}]]", f"talent {i + 1} [[q={(i * 37) % 100}]]") for i in range(n)]


def _rate(server: FakeChatServer, batch: list[Item], concurrency: int, cache: Path) -> dict[str, Any]:
    with OpenAIJudge(
        "fake-judge", base_url=server.url, api_key_env=None, concurrency=concurrency, cache_path=str(cache)
    ) as judge:
        judge.judge_many(batch, progress=False)
        summary = judge.last_summary
    assert summary is not None
    return {
        "concurrency": concurrency,
        "requests": summary.answered,
        "requests_per_s": round(summary.requests_per_s, 1),
    }


def run_benchmark(n_items: int, concurrency: int, latency: float, workdir: Path) -> dict[str, Any]:
    """Throughput at ``concurrency`` and with 1 worker, and the cache's savings on a resumed run."""
    batch = items(n_items)
    with FakeChatServer(latency=latency) as server:
        report: dict[str, Any] = {"latency_s": latency, "ceiling_requests_per_s": round(concurrency / latency, 1)}
        report["throughput"] = _rate(server, batch, concurrency, workdir / "throughput.jsonl")
        report["sequential"] = _rate(server, batch[: min(n_items, 40)], 1, workdir / "sequential.jsonl")

        cache = workdir / "resume.jsonl"
        with OpenAIJudge("fake-judge", base_url=server.url, api_key_env=None, concurrency=concurrency,
                         cache_path=str(cache), progress=False) as judge:  # fmt: skip
            judge.judge_many(batch[: n_items // 2])  # the run that was interrupted halfway
            before = server.requests
            judge.judge_many(batch)  # the resumed run
            summary = judge.last_summary
        assert summary is not None
        report["resume"] = {
            "items": n_items,
            "requests_sent": server.requests - before,
            "requests_saved_by_cache": summary.cached,
        }
    return report


def run(quick: bool = False) -> dict[str, Any]:
    """The harness's result: requests/s at ``CONCURRENCY`` against its ceiling and one worker, and the
    requests a resumed run sends (only the half the interrupted run did not get through)."""
    n_items = 80 if quick else ITEMS
    with tempfile.TemporaryDirectory(prefix="judge-bench-") as workdir:
        report = run_benchmark(n_items, CONCURRENCY, LATENCY, Path(workdir))
    parallel, sequential, resume = report["throughput"], report["sequential"], report["resume"]
    rows = [
        {"variant": f"{CONCURRENCY} workers", **parallel},
        {"variant": "1 worker", **sequential},
    ]
    ceiling = report["ceiling_requests_per_s"]
    return bench_result(
        "judge_throughput",
        "AI judge client: concurrent requests and the resumable cache, against the loopback judge server",
        {
            "model": "loopback OpenAI-compatible server (bench.judge_server), fixed latency",
            "batch": f"{n_items} items",
            "lengths": "short synthetic items (the cost is the server's latency)",
            "precision": "n/a (no model)",
            "repetitions": "one pass per variant; the resumed run after an interrupted half",
            "latency_s": LATENCY,
            "resume": resume,
        },
        rows,
        [
            target("requests/s at 8 workers / ceiling (8 / latency)", parallel["requests_per_s"] / ceiling, ">=", 0.7),
            target(
                "requests a resumed run sends / items left",
                resume["requests_sent"] / max(1, n_items - n_items // 2),
                "<=",
                1.0,
                "the cache answers what the interrupted run got through",
            ),
        ],
    )


def main() -> None:
    """Run the benchmark and print its report as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake server takes per request")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="judge-bench-") as workdir:
        report = run_benchmark(args.items, args.concurrency, args.latency, Path(workdir))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
