"""An append-only, crash-safe JSONL cache of judge answers, so that no answer is ever paid for twice.

Why JSONL rather than sqlite: the cache is written by one process, line by line, as answers arrive,
and read whole at start; an append-only text file does exactly that with one ``write`` + ``fsync``
per answer, can be inspected with ``grep``/``jq``, merged with ``cat`` and versioned or shared as
it is. A kill can only tear the last line, which loading detects and cuts off (with a warning);
everything before it is intact. Sqlite would add a binary format and journal files for no
capability the annotation loop needs (no updates, no queries but "have I asked this?").
One writer process per file: two processes appending to the same file are not coordinated.

Each line is one answer::

    {"key": <sha256>, "prompt_sha256": ..., "model": ..., "settings": {"temperature": 0.0, ...},
     "response": <raw answer text>, "finish_reason": "stop", "usage": {"prompt_tokens": ..., ...},
     "created": "2025-01-01T12:00:00+00:00"}

The key is :func:`cache_key` of (prompt hash, model, settings). Only answers are stored — transport
failures are not (they cost nothing and should be retried) — and never credentials or headers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobmatch.errors import UserError
from jobmatch.utils.atomic import WriteError, write_problem

log = logging.getLogger(__name__)


def cache_key(prompt_sha256: str, model: str, settings: Mapping[str, Any]) -> str:
    """sha256 of (prompt hash, model, sampling settings such as temperature and max_tokens)."""
    payload = json.dumps({"prompt": prompt_sha256, "model": model, "settings": dict(settings)}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def utc_now() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CachedAnswer:
    """One judge answer as stored: the raw text and what it cost, under its :func:`cache_key`."""

    key: str
    prompt_sha256: str
    model: str
    settings: dict[str, Any]
    response: str
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None
    created: str = field(default_factory=utc_now)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CachedAnswer:
        """Rebuild from a stored line (unknown extra fields are ignored)."""
        return cls(
            key=data["key"],
            prompt_sha256=data["prompt_sha256"],
            model=data["model"],
            settings=dict(data.get("settings", {})),
            response=data["response"],
            usage={k: int(v) for k, v in (data.get("usage") or {}).items()},
            finish_reason=data.get("finish_reason"),
            created=data.get("created", ""),
        )


class CacheFormatError(UserError, ValueError):
    """A cache line other than the last is not a valid answer record (the file was edited or corrupted)."""


class AnswerCache:
    """The answers in ``path`` (created if absent); :meth:`put` appends and fsyncs one line per answer.

    Thread-safe: the judge's worker threads call :meth:`put` concurrently.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self._answers: dict[str, CachedAnswer] = {}
        self._lock = threading.Lock()
        if not created:
            self._load()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if created:
            _fsync_dir(self.path.parent)

    def __len__(self) -> int:
        return len(self._answers)

    def __contains__(self, key: object) -> bool:
        return key in self._answers

    def get(self, key: str) -> CachedAnswer | None:
        """The stored answer for ``key``, or ``None``."""
        return self._answers.get(key)

    def put(self, answer: CachedAnswer) -> None:
        """Append ``answer`` and make it durable (flush + fsync) before returning."""
        data = (json.dumps(asdict(answer), ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        with self._lock:
            start = os.fstat(self._fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
                os.fsync(self._fd)
            except OSError as error:  # a full disk: cut the torn line off, so later appends stay well-formed
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, start)
                raise WriteError(write_problem(self.path, "judge cache", error)) from None
            self._answers[answer.key] = answer

    def close(self) -> None:
        """Close the file; the cache can no longer be written."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> AnswerCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load(self) -> None:
        raw = self.path.read_bytes()
        end = raw.rfind(b"\n") + 1
        if end < len(raw):  # a line torn by a kill mid-write: cut it off so appends start on a fresh line
            log.warning(
                "judge cache %s: ignoring a truncated last line (%d bytes) left by an interrupted run",
                self.path,
                len(raw) - end,
            )
            os.truncate(self.path, end)
        for number, line in enumerate(raw[:end].decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                answer = CachedAnswer.from_dict(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                raise CacheFormatError(f"{self.path}:{number}: not a judge answer record ({error})") from None
            self._answers[answer.key] = answer


def _fsync_dir(directory: Path) -> None:
    """Make a newly created file's directory entry durable (best effort: not every OS allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
