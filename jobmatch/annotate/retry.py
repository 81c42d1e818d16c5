"""Which API errors are worth another attempt, how long to wait before it, and how to describe them safely.

Retried: HTTP 429 (rate limit), any 5xx, timeouts, connection errors and a 200 whose body is not
JSON (a torn response from a proxy) — the transient ones. Any other 4xx (bad request,
authentication, unknown model) would fail again identically and is not.
The wait before attempt k+1 is exponential with "equal jitter": half of ``base·2^(k-1)`` (capped at
``max``) plus a uniform draw over the other half, so that workers that failed together spread out;
a server's ``Retry-After`` header, when longer, is honoured up to ``max``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

import openai

from jobmatch.annotate.credentials import Redactor


@dataclass
class Backoff:
    """Exponential backoff with jitter: ``delay(k)`` seconds to wait after the k-th failed attempt (k ≥ 1)."""

    base: float = 1.0
    max: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.base < 0 or self.max < 0:
            raise ValueError(f"backoff base={self.base} and max={self.max} must be >= 0")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep after failed attempt number ``attempt`` (1-based)."""
        cap = min(self.max, self.base * 2 ** (attempt - 1))
        wait = cap / 2 + self.rng.uniform(0, cap / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max))
        return wait


def is_retryable(error: BaseException) -> bool:
    """True for 429, 5xx, timeouts, connection errors (``APITimeoutError`` is one) and non-JSON bodies
    (text that does not parse, or bytes that are not even UTF-8)."""
    if isinstance(error, (openai.APIConnectionError, json.JSONDecodeError, UnicodeDecodeError)):
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code == 429 or error.status_code >= 500
    return False


def retry_after_seconds(error: BaseException) -> float | None:
    """The ``Retry-After`` header of an HTTP error response, in seconds, when it is a number."""
    if not isinstance(error, openai.APIStatusError):
        return None
    value = error.response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def describe_error(error: BaseException, redactor: Redactor, limit: int = 300) -> str:
    """A one-line, secret-free description of ``error``, for logs and outcomes.

    Built from the status code and message only — never from ``repr(error)`` or the request, which
    carry headers (and so the API key) in some client versions.
    """
    if isinstance(error, openai.APITimeoutError):
        text = "APITimeoutError: the request timed out"
    elif isinstance(error, openai.APIConnectionError):
        cause = type(error.__cause__).__name__ if error.__cause__ is not None else "unknown cause"
        text = f"APIConnectionError: {error.message} ({cause})"
    elif isinstance(error, openai.APIStatusError):
        text = f"{type(error).__name__}: HTTP {error.status_code}: {error.message}"
    elif isinstance(error, json.JSONDecodeError):
        text = f"JSONDecodeError: the response body is not JSON ({error.msg} at char {error.pos})"
    elif isinstance(error, UnicodeDecodeError):
        text = f"UnicodeDecodeError: the response body is not JSON (not even UTF-8 text: byte {error.start})"
    else:
        text = f"{type(error).__name__}: {error}"
    text = " ".join(redactor.scrub(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
