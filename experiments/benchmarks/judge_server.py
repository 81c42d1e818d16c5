"""A local stand-in for an OpenAI-compatible chat-completions API, for tests and benchmarks (no network).

``POST /v1/chat/completions`` answers like a judge: it reads quality markers ``[[q=NN]]`` in the
prompt — the first one belongs to the candidate shown first (A), the second to B — and prefers the
higher one (ties: A) with confidence ``min(100, 50 + |qa - qb|)``. Other markers anywhere in the
prompt script misbehaviour, counted per distinct prompt, so that behaviour under concurrency is
deterministic:

- ``[[429xN]]`` / ``[[500xN]]``: the first N requests for this prompt get HTTP 429 / 500;
- ``[[hangxN]]``: the first N requests sleep ``hang_s`` before answering (past a client timeout);
- ``[[slowxN]]``: the first N requests sleep ``slow_s`` (a request in flight when a client is killed);
- ``[[garbage]]``: a well-formed response whose answer has no verdict;
- ``[[badjson]]``: HTTP 200 with a body that is not JSON;
- ``[[binary]]``: HTTP 200 with a body of binary garbage (not even UTF-8);
- ``[[echo-auth]]``: HTTP 401 whose error message echoes the request's Authorization header (a
  careless server: the client must not pass it on);
- ``[[biasA]]``: always prefer the candidate shown first, with confidence 55 when it is the worse one
  (a position-biased judge);
- ``[[bold]]``: markdown-styled verdict lines (``**Preferred:** B``, ``**Confidence:** 85%``).

Setting :attr:`FakeChatServer.broken` makes every answer verdict-free, as ``[[garbage]]`` does (a
misconfigured judge, fixed by setting it back). Setting :attr:`FakeChatServer.prefer_pronoun` (e.g.
``"she/her"``) makes a judge biased on purpose: of two profiles whose identity lines
(``Name: … (pronouns)``) differ in that cue, it prefers the one that shows it. Every prompt received
is kept in :attr:`FakeChatServer.prompts` (what left the client, for redaction tests). It counts
requests (in total and per prompt) and the most requests ever in flight at once.
Run ``python -m experiments.benchmarks.judge_server --port 8000`` to serve one by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_QUALITY = re.compile(r"\[\[q=(\d+)\]\]")
_TIMES = re.compile(r"\[\[(429|500|hang|slow)x(\d+)\]\]")
_IDENTITY = re.compile(r"^Name: .*\(([^()]+)\)$", re.MULTILINE)


class FakeChatServer:
    """A threaded HTTP server on 127.0.0.1 (port 0: any free port); use as a context manager.

    Args:
        latency: seconds every request takes before its answer (simulates the model's time).
        hang_s: how long ``[[hangxN]]`` requests sleep.
        slow_s: how long ``[[slowxN]]`` requests sleep.
        port: the port to listen on (0 picks a free one).
    """

    def __init__(self, latency: float = 0.0, hang_s: float = 2.0, slow_s: float = 30.0, port: int = 0) -> None:
        self.latency, self.hang_s, self.slow_s = latency, hang_s, slow_s
        self.broken = False  # True: every answer has no verdict
        self.prefer_pronoun: str | None = None  # biased on purpose: prefer the profile with this pronoun cue
        self.prompts: list[str] = []
        self.requests = 0
        self.max_in_flight = 0
        self.per_prompt: Counter[str] = Counter()  # sha256 of the prompt → requests received
        self.authorizations: set[str] = set()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", port), _handler_for(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="fake-chat-server", daemon=True
        )

    @property
    def url(self) -> str:
        """The ``base_url`` to give a client: ``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> FakeChatServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wake any sleeping (hanging) handlers."""
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_counts(self) -> None:
        """Forget the request counts (behaviour markers count again from zero)."""
        with self._lock:
            self.requests, self.max_in_flight = 0, 0
            self.per_prompt.clear()

    def respond(self, prompt: str, authorization: str) -> tuple[int, bytes]:
        """Status and body for one request (called by the handler; sleeps as scripted)."""
        digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()
        with self._lock:
            self.requests += 1
            self.per_prompt[digest] += 1
            seen = self.per_prompt[digest]
            self.authorizations.add(authorization)
            self.prompts.append(prompt)
        times = {kind: int(n) for kind, n in _TIMES.findall(prompt)}
        if seen <= times.get("hang", 0):
            self._stop.wait(self.hang_s)
        if seen <= times.get("slow", 0):
            self._stop.wait(self.slow_s)
        if self.latency:
            self._stop.wait(self.latency)
        for code in (429, 500):
            if seen <= times.get(str(code), 0):
                return code, _error_body(f"scripted {code} ({seen} of {times[str(code)]})", code)
        if "[[echo-auth]]" in prompt:
            return 401, _error_body(f"invalid credentials: {authorization}", 401)
        if "[[badjson]]" in prompt:
            return 200, b'{"id": "chatcmpl-fake", "choices": [ this is not json'
        if "[[binary]]" in prompt:
            return 200, bytes(range(128, 256)) * 4
        answer = _answer("[[garbage]]" if self.broken else prompt, self.prefer_pronoun)
        return 200, json.dumps(_completion(prompt, answer)).encode("utf-8")

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default (5) makes bursts of new connections wait for SYN retries


def _answer(prompt: str, prefer_pronoun: str | None = None) -> str:
    """The judge's answer text for ``prompt`` (see the module docstring)."""
    if "[[garbage]]" in prompt:
        return "Both candidates have merits and I cannot decide between them without more information."
    qualities = [int(q) for q in _QUALITY.findall(prompt)] + [50, 50]
    qa, qb = qualities[0], qualities[1]
    preferred = "A" if qa >= qb else "B"
    confidence = min(100, 50 + abs(qa - qb))
    if "[[biasA]]" in prompt and preferred == "B":  # position bias: A anyway, lukewarm
        preferred, confidence = "A", 55
    shown = _IDENTITY.findall(prompt)  # pronoun cues of A's and B's identity lines
    if prefer_pronoun and len(shown) >= 2 and (shown[0] == prefer_pronoun) != (shown[1] == prefer_pronoun):
        preferred, confidence = ("A" if shown[0] == prefer_pronoun else "B"), 70
    reason = (
        f"Candidate {preferred}'s publications use the methods the posting asks for more directly, "
        f"while the other candidate's work only touches on them."
    )
    if "[[bold]]" in prompt:
        return f"{reason}\n\n**Preferred:** {preferred}\n**Confidence:** {confidence}%"
    return f"{reason}\n\nPreferred: {preferred}\nConfidence score: {confidence}"


def _completion(prompt: str, answer: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake-judge",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": answer}},
        ],
        "usage": {
            "prompt_tokens": len(prompt.split()),
            "completion_tokens": len(answer.split()),
            "total_tokens": len(prompt.split()) + len(answer.split()),
        },
    }


def _error_body(message: str, code: int) -> bytes:
    kind = {429: "rate_limit_error", 401: "authentication_error"}.get(code, "server_error")
    return json.dumps({"error": {"message": message, "type": kind, "code": str(code)}}).encode("utf-8")


def _handler_for(server: FakeChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real APIs
        disable_nagle_algorithm = True  # else headers and body, sent apart, wait ~40 ms for a delayed ACK

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, _error_body(f"no route {self.path}", 404))
                return
            request = json.loads(body or b"{}")
            prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages", []))
            server.enter()
            try:
                status, payload = server.respond(prompt, self.headers.get("Authorization", ""))
            finally:
                server.leave()
            self._send(status, payload)

        def _send(self, status: int, payload: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout) or was killed
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler


def main() -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    with FakeChatServer(latency=args.latency, port=args.port) as server:
        print(f"serving {server.url} (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
