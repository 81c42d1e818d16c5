"""The judge's prompt: a template with ``{query}``, ``{passage_a}`` and ``{passage_b}``, its rendering and hash.

Rendering substitutes the three placeholders in one pass and leaves every other brace alone, so JDs
and profiles may contain ``{...}`` (or even the placeholder names) without being re-substituted.
"""

from __future__ import annotations

import hashlib
import re

PLACEHOLDERS = ("query", "passage_a", "passage_b")
_PLACEHOLDER = re.compile(r"\{(query|passage_a|passage_b)\}")

DEFAULT_TEMPLATE = """\
You are an experienced recruiter for academic research positions. Read the job posting below and \
the profiles of two candidate researchers, A and B. Each profile lists the researcher's keywords \
and publications (titles and abstracts).

## Job posting
{query}

## Candidate A
{passage_a}

## Candidate B
{passage_b}

## Your task
Decide which candidate fits this posting better. Judge the substance: the research questions and \
methods the posting asks for against what each candidate has actually worked on, then the level \
of the position and its location. Read the publications closely rather than counting shared \
keywords, and do not let the order in which the candidates are shown influence you.

Explain your comparison briefly, in a few sentences. Then end your answer with exactly these two \
lines, and nothing after them:
Preferred: <A or B>
Confidence score: <an integer from 0 (a guess) to 100 (certain)>
"""


def check_template(template: str) -> None:
    """Raise ``ValueError`` unless ``template`` contains each of ``{query}``, ``{passage_a}``, ``{passage_b}``."""
    missing = [name for name in PLACEHOLDERS if "{" + name + "}" not in template]
    if missing:
        raise ValueError(
            f"judge prompt template lacks the placeholder(s) {', '.join('{' + m + '}' for m in missing)}; "
            "it must show the JD as {query} and the two candidates as {passage_a} and {passage_b}"
        )


def render_prompt(template: str, query: str, passage_a: str, passage_b: str) -> str:
    """The prompt for one comparison: ``template`` with its three placeholders filled in (one pass)."""
    check_template(template)
    values = {"query": query, "passage_a": passage_a, "passage_b": passage_b}
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def prompt_hash(text: str) -> str:
    """The sha256 hex digest of a prompt (or template) text, UTF-8 encoded: its identity in the cache."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
