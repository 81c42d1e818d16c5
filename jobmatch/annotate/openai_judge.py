"""An LLM judge behind any OpenAI-compatible chat-completions API (DeepSeek as in the paper, OpenAI, vLLM, Ollama).

:meth:`OpenAIJudge.judge_many` renders one prompt per (JD, A, B) item — two with ``both_orders`` —
serves what it can from the answer cache, and sends the rest through a thread pool of
``concurrency`` workers sharing one ``openai.OpenAI`` client. The client's own retries are off
(``max_retries=0``): each worker retries transient errors itself (:mod:`jobmatch.annotate.retry`),
up to ``max_attempts``, then records the request as failed and the run goes on. Every answer is
appended to the cache the moment it arrives, so a killed run loses at most the requests in flight,
and a rerun asks only what is missing. Unparseable answers are cached too (they were paid for, and
can be inspected) but, with ``retry_unparseable`` (the default), a rerun asks them again — a judge
that has been fixed since then gets its chance; the newer answer replaces the older one.

The API key comes from the environment variable named by ``api_key_env`` and lives only inside the
client; errors are logged and recorded through :class:`~jobmatch.annotate.credentials.Redactor`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

import openai
from tqdm.auto import tqdm

from jobmatch.annotate.cache import AnswerCache, CachedAnswer, cache_key
from jobmatch.annotate.credentials import Redactor, read_api_key
from jobmatch.annotate.outcome import (
    ORDER_POLICIES,
    AnnotationSummary,
    JudgeOutcome,
    OrderPolicy,
    RequestResult,
    item_outcome,
    summarize,
)
from jobmatch.annotate.parse import JudgementParseError, parse_judgement
from jobmatch.annotate.prompt import DEFAULT_TEMPLATE, check_template, prompt_hash, render_prompt
from jobmatch.annotate.retry import Backoff, describe_error, is_retryable, retry_after_seconds
from jobmatch.data.judgement import Item, Judgement

log = logging.getLogger(__name__)



class JudgeRequestError(RuntimeError):
    """:meth:`OpenAIJudge.judge` got no verdict: the request failed, the answer was unclear, or the orders disagreed."""


class OpenAIJudge:
    """A pairwise judge implementing :class:`jobmatch.data.judgement.Judge` through the ``openai`` client.

    Args:
        model: the model name sent to the API; also the judge's ``name`` (the annotations' ``model``).
        base_url: the API root, e.g. ``https://api.deepseek.com`` or ``http://localhost:8000/v1``.
        api_key_env: NAME of the environment variable holding the key; ``None``: send a dummy key.
        temperature, max_tokens: sampling settings; part of the cache key.
        timeout: seconds per HTTP attempt.
        concurrency: requests in flight at once.
        max_attempts: attempts per request on transient errors (429, 5xx, timeout, connection).
        backoff_base, backoff_max: exponential backoff between attempts, in seconds.
        both_orders: ask (A, B) and (B, A) to cancel position bias; ``order_policy`` combines them.
        order_policy: ``agree`` or ``mean`` (see :mod:`jobmatch.annotate.outcome`).
        cache_path: JSONL answer cache; ``None``: no cache.
        prompt_template: with ``{query}``, ``{passage_a}``, ``{passage_b}``; ``None``: the default.
        price_prompt_per_1m, price_completion_per_1m: USD per 1M tokens, for the summary's cost.
        progress: show a progress bar in :meth:`judge_many`.
        retry_unparseable: ask again a prompt whose cached answer has no clear verdict (``False``:
            serve it from the cache as unparseable, never paying for it twice).
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        temperature: float = 0.0,
        max_tokens: int = 512,
        timeout: float = 60.0,
        concurrency: int = 8,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        both_orders: bool = False,
        order_policy: OrderPolicy = "agree",
        cache_path: str | None = None,
        prompt_template: str | None = None,
        price_prompt_per_1m: float | None = None,
        price_completion_per_1m: float | None = None,
        progress: bool = True,
        retry_unparseable: bool = True,
    ) -> None:
        if concurrency < 1 or max_attempts < 1 or timeout <= 0 or max_tokens < 1:
            raise ValueError(
                f"judge needs concurrency >= 1 (got {concurrency}), max_attempts >= 1 (got {max_attempts}), "
                f"timeout > 0 (got {timeout}) and max_tokens >= 1 (got {max_tokens})"
            )
        if order_policy not in ORDER_POLICIES:
            raise ValueError(f"judge order_policy={order_policy!r}; choose one of {ORDER_POLICIES}")
        self.template = prompt_template if prompt_template is not None else DEFAULT_TEMPLATE
        check_template(self.template)
        self.name = model
        self.model, self.base_url, self.api_key_env = model, base_url, api_key_env
        self.settings: dict[str, Any] = {"temperature": float(temperature), "max_tokens": int(max_tokens)}
        self.concurrency, self.max_attempts = concurrency, max_attempts
        self.backoff = Backoff(backoff_base, backoff_max)
        self.both_orders, self.order_policy = both_orders, order_policy
        self.prices = (price_prompt_per_1m, price_completion_per_1m)
        self.progress = progress
        self.retry_unparseable = retry_unparseable
        api_key = read_api_key(api_key_env)
        self._redactor = Redactor(api_key)
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)
        self.cache = AnswerCache(cache_path) if cache_path else None
        # The transport logs one INFO line per request, which would bury the progress bar; quiet it
        # unless the application configured that logger itself.
        transport = logging.getLogger("httpx2")
        if transport.level == logging.NOTSET:
            transport.setLevel(logging.WARNING)
        self.last_summary: AnnotationSummary | None = None

    def __repr__(self) -> str:
        return (
            f"OpenAIJudge(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r}, "
            f"settings={self.settings}, concurrency={self.concurrency}, both_orders={self.both_orders})"
        )

    def judge(self, query: str, passage_a: str, passage_b: str) -> Judgement:
        """One verdict (see :class:`~jobmatch.data.judgement.Judge`); raises :class:`JudgeRequestError` if none."""
        outcome = self.judge_many([(query, passage_a, passage_b)], progress=False)[0]
        if outcome.judgement is None:
            raise JudgeRequestError(f"no verdict ({outcome.status}): {outcome.error}")
        return outcome.judgement

    def judge_many(self, items: Sequence[Item], progress: bool | None = None) -> list[JudgeOutcome]:
        """Judge every (query, passage_a, passage_b) item; one outcome per item, in order.

        Never raises for a failed or unparseable request: it is recorded in its outcome. The
        counts of the call are left in :attr:`last_summary` (and logged).
        """
        start = time.perf_counter()
        prompts: dict[str, tuple[str, str]] = {}  # cache key → (prompt sha256, prompt text)
        plan = [
            (self._plan(prompts, q, a, b), self._plan(prompts, q, b, a) if self.both_orders else None)
            for q, a, b in items
        ]
        results = self._from_cache(prompts)
        reasked = sum(result.status == "unparseable" for result in results.values()) if self.retry_unparseable else 0
        if self.retry_unparseable:
            results = {key: result for key, result in results.items() if result.status != "unparseable"}
        misses = [key for key in prompts if key not in results]
        show = self.progress if progress is None else progress
        results.update(self._ask_all(misses, prompts, show))

        outcomes = [
            item_outcome(i, results[fwd], results[swp].swapped() if swp else None, self.order_policy)
            for i, (fwd, swp) in enumerate(plan)
        ]
        self.last_summary = summarize(
            outcomes, list(results.values()), time.perf_counter() - start, *self.prices, reasked=reasked
        )
        log.info("judge %s: %s", self.name, self.last_summary.to_dict())
        return outcomes

    def close(self) -> None:
        """Close the HTTP client and the cache file."""
        self._client.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> OpenAIJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _from_cache(self, prompts: dict[str, tuple[str, str]]) -> dict[str, RequestResult]:
        """The results of the prompts whose answers are in the cache (parsed or unparseable)."""
        results: dict[str, RequestResult] = {}
        for key, (digest, _) in prompts.items():
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                results[key] = _result(hit, digest, cached=True, attempts=0)
        return results

    def _plan(self, prompts: dict[str, tuple[str, str]], query: str, first: str, second: str) -> str:
        text = render_prompt(self.template, query, first, second)
        digest = prompt_hash(text)
        key = cache_key(digest, self.model, self.settings)
        prompts[key] = (digest, text)
        return key

    def _ask_all(
        self, keys: Sequence[str], prompts: dict[str, tuple[str, str]], show: bool
    ) -> dict[str, RequestResult]:
        """Ask every prompt in ``keys`` with ``concurrency`` workers; a progress bar counts answers."""
        results: dict[str, RequestResult] = {}
        if not keys:
            return results
        stop = threading.Event()  # set on interrupt: workers stop retrying and sleeping
        failed = 0
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="judge")
        bar = tqdm(total=len(keys), desc=f"judge {self.name}", unit="req", disable=not show, dynamic_ncols=True)
        try:
            futures: dict[Future[RequestResult], str] = {
                pool.submit(self._ask, key, *prompts[key], stop): key for key in keys
            }
            for future in as_completed(futures):
                result = results[futures[future]] = future.result()
                failed += result.status != "ok"
                bar.update(1)
                bar.set_postfix(not_ok=failed, refresh=False)
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
        return results

    def _ask(self, key: str, digest: str, text: str, stop: threading.Event) -> RequestResult:
        """Send one prompt with retries; cache the answer as soon as it arrives."""
        attempt = 0
        while attempt < self.max_attempts and not stop.is_set():
            attempt += 1
            try:
                completion = self._client.chat.completions.create(
                    model=self.model, messages=[{"role": "user", "content": text}], **self.settings
                )
            except (openai.OpenAIError, json.JSONDecodeError, UnicodeDecodeError) as error:
                description = describe_error(error, self._redactor)
                if is_retryable(error) and attempt < self.max_attempts:
                    log.debug("judge request %s… attempt %d: %s", digest[:12], attempt, description)
                    stop.wait(self.backoff.delay(attempt, retry_after_seconds(error)))
                    continue
                log.warning("judge request %s… failed after %d attempt(s): %s", digest[:12], attempt, description)
                return RequestResult(digest, "failed", error=description, attempts=attempt)
            answer = self._answer(key, digest, completion)
            if answer is None:
                error_text = "the API returned no answer text (no choices or empty content)"
                log.warning("judge request %s… failed: %s", digest[:12], error_text)
                return RequestResult(digest, "failed", error=error_text, attempts=attempt)
            if self.cache is not None:
                self.cache.put(answer)
            return _result(answer, digest, cached=False, attempts=attempt)
        return RequestResult(digest, "failed", error="interrupted", attempts=attempt)

    def _answer(self, key: str, digest: str, completion: Any) -> CachedAnswer | None:
        """The cache record of a completion, or ``None`` if it holds no answer text."""
        choices = getattr(completion, "choices", None) or []
        message = getattr(choices[0], "message", None) if choices else None
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip():
            return None
        usage = getattr(completion, "usage", None)
        counts = {
            name: int(getattr(usage, name, 0) or 0) for name in ("prompt_tokens", "completion_tokens", "total_tokens")
        }
        return CachedAnswer(
            key=key,
            prompt_sha256=digest,
            model=self.model,
            settings=dict(self.settings),
            response=content,
            usage=counts if usage is not None else {},
            finish_reason=getattr(choices[0], "finish_reason", None),
        )


def _result(answer: CachedAnswer, digest: str, cached: bool, attempts: int) -> RequestResult:
    """A request result from an answer: parsed, or unparseable with the reason."""
    try:
        judgement = parse_judgement(answer.response)
    except JudgementParseError as error:
        log.warning("judge answer %s… is unparseable: %s", digest[:12], error.reason)
        return RequestResult(
            digest, "unparseable", None, answer.response, error.reason, cached, attempts, dict(answer.usage)
        )
    return RequestResult(digest, "ok", judgement, answer.response, None, cached, attempts, dict(answer.usage))
