"""The judge's own retries (``jobmatch.annotate.retry``) against the openai SDK's ``max_retries``, on the loopback
judge server's scripted faults (no network).

    python -m experiments.benchmarks judge_retries         # in make bench
    python -m experiments.benchmarks.judge_retries         # prints the rows as JSON

For each fault, one prompt is sent by :class:`~jobmatch.annotate.openai_judge.OpenAIJudge` (its workers retry;
the SDK's retries off) and by a bare ``openai.OpenAI(max_retries=...)`` client with the same attempt budget.
A row gives the outcome, the requests the server received and the seconds it took. The last row measures how
long a worker takes to stop once the run is interrupted while it waits between attempts: the judge's wait is
an event the interrupt sets, the SDK's a ``time.sleep`` inside the request call.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

import openai

from experiments.benchmarks.common import bench_result, target
from experiments.benchmarks.judge_server import FakeChatServer
from jobmatch.annotate.openai_judge import OpenAIJudge

ATTEMPTS = 4  # the judge's max_attempts; the SDK gets max_retries = ATTEMPTS - 1
FAULTS = {
    "HTTP 500 twice": "[[500x2]]",
    "HTTP 429 twice": "[[429x2]]",
    "HTTP 200, body not JSON": "[[badjson]]",
}


def judge_once(server: FakeChatServer, marker: str, backoff: float) -> tuple[str, float]:
    """The judge's outcome (``ok`` / ``failed``) for one prompt carrying ``marker``, and its seconds."""
    start = time.perf_counter()
    with OpenAIJudge("fake-judge", base_url=server.url, api_key_env=None, concurrency=1, max_attempts=ATTEMPTS,
                     backoff_base=backoff, backoff_max=backoff * 8, progress=False) as judge:
        judge.judge_many([("JD", f"A [[q=80]] {marker}", "B [[q=20]]")])
        summary = judge.last_summary
    outcome = "ok" if summary is not None and summary.failed == 0 else "failed"
    return outcome, time.perf_counter() - start


def sdk_once(server: FakeChatServer, marker: str) -> tuple[str, float]:
    """The SDK client's outcome for the same prompt: ``ok`` when it returns a completion with text."""
    client = openai.OpenAI(api_key="sk-none", base_url=server.url, max_retries=ATTEMPTS - 1, timeout=10)
    start = time.perf_counter()
    try:
        completion = client.chat.completions.create(
            model="fake-judge", messages=[{"role": "user", "content": f"A [[q=80]] {marker} B [[q=20]]"}])
        outcome = "ok" if completion.choices and completion.choices[0].message.content else "no answer"
    except (openai.OpenAIError, json.JSONDecodeError, AttributeError) as error:
        outcome = f"failed ({type(error).__name__})"
    return outcome, time.perf_counter() - start


def stop_latency(server: FakeChatServer, interrupt_after: float) -> dict[str, float]:
    """Seconds from an interrupt (``interrupt_after`` s into a run whose prompt fails 9 times) to the worker's end."""
    judge = OpenAIJudge("fake-judge", base_url=server.url, api_key_env=None, concurrency=1,
                        max_attempts=ATTEMPTS, backoff_base=2.0, backoff_max=16.0, progress=False)
    stop = threading.Event()
    ours = threading.Thread(target=judge._ask, args=("key", "digest", "stop [[500x9]] judge", stop))
    client = openai.OpenAI(api_key="sk-none", base_url=server.url, max_retries=ATTEMPTS - 1, timeout=10)

    def sdk() -> None:
        with contextlib.suppress(openai.OpenAIError):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "stop [[500x9]] sdk"}])

    theirs = threading.Thread(target=sdk)
    start = time.perf_counter()
    ours.start()
    theirs.start()
    time.sleep(interrupt_after)
    stop.set()  # what an interrupt does to the judge's workers; the SDK has no such hook
    interrupted = time.perf_counter()
    ours.join()
    ours_s = time.perf_counter() - interrupted
    theirs.join()
    judge.close()
    return {"judge_s": round(ours_s, 3), "sdk_s": round(time.perf_counter() - interrupted, 3),
            "run_s": round(time.perf_counter() - start, 3)}


def run(quick: bool = False) -> dict[str, Any]:
    """Rows: per fault, both clients' outcome, requests and seconds; then the stop latency."""
    backoff = 0.05 if quick else 0.5
    rows = []
    with FakeChatServer() as server:
        for fault, marker in FAULTS.items():
            for client in ("judge (jobmatch.annotate.retry)", f"openai SDK (max_retries={ATTEMPTS - 1})"):
                server.reset_counts()
                outcome, seconds = (judge_once(server, marker, backoff) if client.startswith("judge")
                                    else sdk_once(server, marker))
                rows.append({"fault": fault, "client": client, "outcome": outcome, "requests": server.requests,
                             "seconds": round(seconds, 3)})
        server.reset_counts()
        latency = stop_latency(server, interrupt_after=0.3)
    for client, key in (("judge (jobmatch.annotate.retry)", "judge_s"), ("openai SDK", "sdk_s")):
        rows.append({"fault": "interrupt while waiting to retry (500 x9)", "client": client,
                     "outcome": "seconds to stop after the interrupt", "requests": "", "seconds": latency[key]})
    torn = {row["client"][:5]: row["requests"] for row in rows if row["fault"] == "HTTP 200, body not JSON"}
    return bench_result(
        "judge_retries",
        "Judge retries: jobmatch.annotate.retry against the openai SDK's max_retries, loopback server faults",
        {"model": "loopback OpenAI-compatible server (judge_server), no latency", "batch": "one prompt per fault",
         "lengths": "n/a", "precision": "n/a (no model)", "repetitions": "one request per fault and client",
         "attempts": ATTEMPTS, "judge_backoff_base_s": backoff},
        rows,
        [
            target("non-JSON 200: requests the judge sends", torn["judge"], ">=", ATTEMPTS, "retried as transient"),
            target("non-JSON 200: requests the SDK sends", torn["opena"], "<=", 1, "the SDK raises at once"),
            target("seconds for the judge's worker to stop after an interrupt", latency["judge_s"], "<=", 0.5),
        ],
    )


def main() -> None:
    """Run and print the rows as JSON."""
    print(json.dumps(run()["rows"], indent=2))


if __name__ == "__main__":
    main()
