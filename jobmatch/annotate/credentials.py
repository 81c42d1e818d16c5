"""The judge's API key: read from the environment variable named in the config, and kept out of every output.

The key itself never appears in a config file, a cache line, a log record or an error message we
produce: the config holds only the variable's *name* (``api_key_env``), and every error text that
reaches a log or an outcome goes through :meth:`Redactor.scrub` first.
"""

from __future__ import annotations

import os
import re

from jobmatch.errors import OptionError

DUMMY_API_KEY = "EMPTY"  # what local OpenAI-compatible servers (vLLM, Ollama) accept when they check nothing

_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}")


class MissingApiKeyError(OptionError, RuntimeError):
    """The environment variable that should hold the judge's API key is unset or empty."""


def read_api_key(api_key_env: str | None) -> str:
    """The key in the environment variable ``api_key_env``; ``None`` means "no key": :data:`DUMMY_API_KEY`.

    Raises:
        MissingApiKeyError: naming the variable, when it is unset or empty.
    """
    if api_key_env is None:
        return DUMMY_API_KEY
    key = os.environ.get(api_key_env, "").strip()
    if not key:
        raise MissingApiKeyError(
            f"the judge's API key is read from the environment variable {api_key_env}, which is not set: "
            f"`export {api_key_env}=...` (or set {{api_key_env}}=null for a local server that needs no key)"
        )
    return key


class Redactor:
    """Removes secrets from text: the given ones verbatim, and anything shaped like a bearer token or ``sk-`` key."""

    def __init__(self, *secrets: str) -> None:
        self._secrets = sorted({s for s in secrets if s and s != DUMMY_API_KEY}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = _BEARER.sub(r"\1***", text)
        return _KEY_LIKE.sub("sk-***", text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secret(s))"
