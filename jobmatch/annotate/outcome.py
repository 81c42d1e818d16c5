"""What a batch of judge requests produced: per request, per (JD, A, B) item, and in total.

Position bias. With ``both_orders`` every item is asked twice, as (A, B) and as (B, A); the swapped
answer is mapped back to the original labels (its "A" is the original B) and the two verdicts are
combined by a policy:

- ``agree``: keep the item only when both verdicts name the same candidate; its confidence is the
  mean of the two (rounded half up). Disagreements are dropped (status ``disagreed``).
- ``mean``: average the two answers as signed confidences (+c for A, -c for B). The verdict is the
  sign of the mean — i.e. that of the more confident answer — and the confidence its magnitude: the
  mean confidence when they agree, half the gap when they disagree (A 90 vs B 70 → A 10), so kept
  disagreements carry the low confidence they deserve. An exact tie (A c vs B c) is ``disagreed``.

The combined judgement's ``response`` is the raw answer of the forward order when its verdict is
the one kept, else that of the swapped order (whose text calls the original B "A"); both raw
answers stay on the outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from jobmatch.data.judgement import Judgement

OrderPolicy = Literal["agree", "mean"]
ORDER_POLICIES: tuple[str, ...] = ("agree", "mean")
RequestStatus = Literal["ok", "failed", "unparseable"]
ItemStatus = Literal["ok", "failed", "unparseable", "disagreed"]


@dataclass(frozen=True)
class RequestResult:
    """One prompt sent (or found in the cache): the answer, or why there is none.

    Attributes:
        prompt_sha256: hash of the rendered prompt.
        status: ``ok`` (parsed), ``unparseable`` (answered, no clear verdict) or ``failed`` (no answer).
        judgement: the parsed verdict, in the labels of the *item* (already flipped for a swapped order).
        response: the raw answer text (``None`` when failed).
        error: why it failed or could not be parsed (secret-free).
        cached: the answer came from the cache (nothing was paid for it in this run).
        attempts: HTTP attempts made in this run (0 when cached).
        usage: token counts reported with the answer.
    """

    prompt_sha256: str
    status: RequestStatus
    judgement: Judgement | None = None
    response: str | None = None
    error: str | None = None
    cached: bool = False
    attempts: int = 0
    usage: dict[str, int] = field(default_factory=dict)

    def swapped(self) -> RequestResult:
        """The same result with its verdict mapped from swapped labels back to the item's (A ↔ B)."""
        if self.judgement is None:
            return self
        flipped = "B" if self.judgement.preferred == "A" else "A"
        judgement = Judgement(flipped, self.judgement.confidence_score, self.judgement.response)
        return replace(self, judgement=judgement)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the raw response included)."""
        return {
            "prompt_sha256": self.prompt_sha256,
            "status": self.status,
            "preferred": self.judgement.preferred if self.judgement else None,
            "confidence_score": self.judgement.confidence_score if self.judgement else None,
            "response": self.response,
            "error": self.error,
            "cached": self.cached,
            "attempts": self.attempts,
            "usage": dict(self.usage),
        }


@dataclass(frozen=True)
class JudgeOutcome:
    """The result for one (query, passage A, passage B) item of a batch.

    Attributes:
        index: the item's position in the batch.
        status: ``ok`` when ``judgement`` holds the verdict; else why not.
        judgement: the verdict on A vs B in the item's labels (combined over both orders if asked).
        forward: the (A, B) request.
        swapped: the (B, A) request, mapped to the item's labels; ``None`` unless ``both_orders``.
        agreed: whether both orders named the same candidate (``None`` unless both were parsed).
        error: why there is no judgement, when ``status`` is not ``ok``.
    """

    index: int
    status: ItemStatus
    judgement: Judgement | None
    forward: RequestResult
    swapped: RequestResult | None = None
    agreed: bool | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, for writing outcomes next to the annotations."""
        return {
            "index": self.index,
            "status": self.status,
            "preferred": self.judgement.preferred if self.judgement else None,
            "confidence_score": self.judgement.confidence_score if self.judgement else None,
            "agreed": self.agreed,
            "error": self.error,
            "forward": self.forward.to_dict(),
            "swapped": self.swapped.to_dict() if self.swapped else None,
        }


def combine_orders(forward: Judgement, swapped: Judgement, policy: OrderPolicy) -> Judgement | None:
    """Combine the verdicts of both orders (``swapped`` already in the item's labels); see the module docstring."""
    if policy not in ORDER_POLICIES:
        raise ValueError(f"order_policy={policy!r}; choose one of {ORDER_POLICIES}")
    if forward.preferred == swapped.preferred:
        confidence = (forward.confidence_score + swapped.confidence_score + 1) // 2
        return Judgement(forward.preferred, confidence, forward.response)
    if policy == "agree":
        return None
    signed = sum(j.confidence_score * (1 if j.preferred == "A" else -1) for j in (forward, swapped))
    if signed == 0:
        return None
    winner = forward if (signed > 0) == (forward.preferred == "A") else swapped
    return Judgement(winner.preferred, (abs(signed) + 1) // 2, winner.response)


def item_outcome(
    index: int, forward: RequestResult, swapped: RequestResult | None, policy: OrderPolicy
) -> JudgeOutcome:
    """The outcome of one item from its request result(s); ``swapped`` already in the item's labels."""
    requests = [forward] if swapped is None else [forward, swapped]
    for status in ("failed", "unparseable"):
        bad = [r for r in requests if r.status == status]
        if bad:
            orders = ", ".join("A/B" if r is forward else "B/A" for r in bad)
            return JudgeOutcome(index, status, None, forward, swapped, error=f"{orders}: {bad[0].error}")
    if swapped is None:
        return JudgeOutcome(index, "ok", forward.judgement, forward)
    assert forward.judgement is not None and swapped.judgement is not None
    agreed = forward.judgement.preferred == swapped.judgement.preferred
    combined = combine_orders(forward.judgement, swapped.judgement, policy)
    if combined is None:
        error = (
            f"position bias: A/B said {forward.judgement.preferred} ({forward.judgement.confidence_score}), "
            f"B/A said {swapped.judgement.preferred} ({swapped.judgement.confidence_score}) in the item's labels"
        )
        return JudgeOutcome(index, "disagreed", None, forward, swapped, agreed=agreed, error=error)
    return JudgeOutcome(index, "ok", combined, forward, swapped, agreed=agreed)


@dataclass(frozen=True)
class AnnotationSummary:
    """Counts for one :meth:`OpenAIJudge.judge_many` call.

    Request counts are over distinct prompts (an item asked in both orders is two requests;
    duplicate items share one): ``requested = cached + answered + failed``. ``unparseable`` counts
    answers (cached or new) without a clear verdict; ``reasked`` the cached unparseable answers asked
    again (``retry_unparseable``), which count as answered, not cached. Tokens and cost are for the new answers only —
    what this run paid. ``cost`` is ``None`` unless prices per 1M tokens were configured.
    """

    items: int
    kept: int
    requested: int
    cached: int
    answered: int
    failed: int
    unparseable: int
    disagreed: int
    reasked: int
    retries: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    agreement_rate: float | None
    elapsed_s: float

    @property
    def requests_per_s(self) -> float:
        """New answers plus failures per second of wall time."""
        return (self.answered + self.failed) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready fields."""
        return {**self.__dict__, "requests_per_s": self.requests_per_s}


def summarize(
    outcomes: Sequence[JudgeOutcome],
    requests: Sequence[RequestResult],
    elapsed_s: float,
    price_prompt_per_1m: float | None = None,
    price_completion_per_1m: float | None = None,
    reasked: int = 0,
) -> AnnotationSummary:
    """Totals over ``outcomes`` and the distinct ``requests`` behind them; ``reasked`` as counted by the judge."""
    new = [r for r in requests if not r.cached and r.status != "failed"]
    prompt_tokens = sum(r.usage.get("prompt_tokens", 0) for r in new)
    completion_tokens = sum(r.usage.get("completion_tokens", 0) for r in new)
    cost = None
    if price_prompt_per_1m is not None or price_completion_per_1m is not None:
        dollars = prompt_tokens * (price_prompt_per_1m or 0.0) + completion_tokens * (price_completion_per_1m or 0.0)
        cost = dollars / 1e6
    compared = [o for o in outcomes if o.agreed is not None]
    return AnnotationSummary(
        items=len(outcomes),
        kept=sum(o.status == "ok" for o in outcomes),
        requested=len(requests),
        cached=sum(r.cached for r in requests),
        answered=len(new),
        failed=sum(r.status == "failed" for r in requests),
        unparseable=sum(r.status == "unparseable" for r in requests),
        disagreed=sum(o.status == "disagreed" for o in outcomes),
        reasked=reasked,
        retries=sum(max(0, r.attempts - 1) for r in requests),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=cost,
        agreement_rate=sum(bool(o.agreed) for o in compared) / len(compared) if compared else None,
        elapsed_s=elapsed_s,
    )
