"""The ``judge`` group (``conf/judge/``): who compares two talents for a JD, an LLM behind an OpenAI-compatible API
(``openai.yaml``, ``local.yaml``) or the synthetic market's offline judge (``offline.yaml``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobmatch.utils.option_rules import Choice, Num, option

OFFLINE_TARGET = "jobmatch.data.synthetic.judge.OfflineJudge"


@dataclass
class OfflineJudgeOptions:
    """The synthetic market's judge: its hidden scores plus noise (no network)."""

    _target_: str = option(OFFLINE_TARGET, "the class instantiated")
    name: str = option("offline", "the judge's name (cache key, W&B)")
    seed: int = option("${seed}", "the noise seed (the run's seed)")
    noise: float = option(0.3, "std of the noise on the score difference; 0: verdicts follow the text fit exactly",
                          Num(low=0))
    redact: bool = option(False, "redact identities before judging (it drops the profile's identity line anyway)")


@dataclass
class OpenAIJudgeOptions:
    """An LLM judge behind an OpenAI-compatible chat API (DeepSeek by default, or a local server)."""

    _target_: str = option("jobmatch.annotate.openai_judge.OpenAIJudge", "the class instantiated")
    name: str = option("openai", "the judge's name (cache key, W&B)")
    base_url: str = option("https://api.deepseek.com", "the API's base URL")
    model: str = option("deepseek-chat", "the model asked")
    api_key_env: str | None = option("DEEPSEEK_API_KEY", "the NAME of the variable holding the key (null: no key)")
    temperature: float = option(0.0, "sampling temperature; 0: the most repeatable verdicts", Num(low=0))
    max_tokens: int = option(512, "room for the comparison and the two verdict lines", Num(low=1, integer=True))
    timeout: float = option(60.0, "seconds per attempt", Num(low=0, low_open=True))
    concurrency: int = option(8, "requests in flight", Num(low=1, integer=True))
    max_attempts: int = option(5, "attempts per request on 429 / 5xx / timeouts", Num(low=1, integer=True))
    backoff_base: float = option(1.0, "seconds; the wait after attempt k is about base·2^(k-1) with jitter",
                                 Num(low=0))
    backoff_max: float = option(60.0, "cap of the wait (a longer Retry-After is honoured up to this)", Num(low=0))
    both_orders: bool = option(False, "also ask B/A to cancel position bias (2x the requests)")
    order_policy: str = option("agree", "with both_orders: agree (drop disagreements) | mean (signed mean confidence)",
                               Choice(("agree", "mean")))
    cache_path: str = option("${paths.cache_dir}/judge/answers.jsonl", "answers are never paid twice")
    redact: bool = option(True, "e-mails, URLs, ORCIDs, phone numbers, names -> placeholders before sending")
    retry_unparseable: bool = option(True, "ask again answers cached without a clear verdict")
    prompt_template: str | None = option(None, "null: the default prompt; else {query} {passage_a} {passage_b}")
    price_prompt_per_1m: float | None = option(None, "USD per 1M prompt tokens, for the cost in the summary",
                                               Num(low=0, nullable=True))
    price_completion_per_1m: float | None = option(None, "USD per 1M completion tokens", Num(low=0, nullable=True))
    progress: bool = option(True, "show a progress bar")


def judge_schema(node: Mapping[str, Any]) -> type:
    """The schema a composed ``judge`` node follows: the offline judge by its class, else the API judge."""
    return OfflineJudgeOptions if node.get("_target_") == OFFLINE_TARGET else OpenAIJudgeOptions
