"""Asking the judge both presentation orders of a pair, and merging the two verdicts into a probability.

An LLM judge is not always symmetric: shown (A, B) and then (B, A) it may prefer the first position
both times. With ``annotate.judge_both_orders`` each pair is judged twice; the verdicts are merged into
p_A, the judge's probability that talent A (the pair's first, as written) is the better one:

    v = c/100 if the verdict names A else 1 − c/100       per order (c: its confidence, 0-100)
    p_A = mean of v over the orders that got a verdict

The pair's ``preferred`` is A when p_A > 0.5, B when p_A < 0.5 and, at 0.5, the first order's verdict; its
``preference_probability`` is max(p_A, 1 − p_A) (the soft label of ``stage.soft_labels=probability``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobmatch.data.judgement import Item, Judgement

Verdict = tuple[Judgement | None, str, str | None]  # (judgement, status, error), as judge_items returns them


def swapped(items: Sequence[Item]) -> list[Item]:
    """Every (JD, A, B) as (JD, B, A)."""
    return [(query, b, a) for query, a, b in items]


def _prob_a(judgement: Judgement, flipped: bool) -> float:
    """P(the pair's talent A is better) by one verdict; ``flipped``: it was asked as (B, A)."""
    names_a = (judgement.preferred == "A") != flipped
    confidence = judgement.confidence_score / 100.0
    return confidence if names_a else 1.0 - confidence


def merge_orders(first: Verdict, second: Verdict) -> tuple[Verdict, dict[str, Any]]:
    """The verdict on (JD, A, B) from ``first`` (asked as A, B) and ``second`` (asked as B, A), and the extra
    fields of the record: ``preference_probability`` and ``orders_agree`` (absent when an order failed)."""
    ok = [(v[0], flipped) for v, flipped in ((first, False), (second, True)) if v[0] is not None]
    if not ok:
        return first, {}
    p_a = sum(_prob_a(j, flipped) for j, flipped in ok) / len(ok)
    base, flipped = ok[0]
    first_names_a = (base.preferred == "A") != flipped
    preferred = "A" if p_a > 0.5 or (p_a == 0.5 and first_names_a) else "B"
    merged = Judgement(preferred=preferred, confidence_score=base.confidence_score, response=base.response)
    extra: dict[str, Any] = {"preference_probability": max(p_a, 1.0 - p_a)}
    if len(ok) == 2:
        extra["orders_agree"] = (ok[0][0].preferred == "A") == (ok[1][0].preferred == "B")
    return (merged, "ok", None), extra
