"""The judge's prompt renders its three fields once, and the verdict parser reads variants but never guesses."""

import pytest

from jobmatch.annotate.parse import JudgementParseError, parse_judgement
from jobmatch.annotate.prompt import DEFAULT_TEMPLATE, prompt_hash, render_prompt

REASON = "Candidate A works on the posting's methods; candidate B mostly on adjacent topics.\n\n"


@pytest.mark.parametrize(
    ("tail", "preferred", "confidence"),
    [
        ("Preferred: A\nConfidence score: 65", "A", 65),
        ("**Preferred:** B\n**Confidence score:** 90", "B", 90),
        ("**Preferred: B**\n**Confidence: 85%**", "B", 85),
        ("preferred: b\nconfidence score: 70", "B", 70),
        ("Preferred candidate: Candidate A\nConfidence: 85/100", "A", 85),
        ("Preferred Candidate: **Candidate B**\nConfidence Score: 80 out of 100", "B", 80),
        ("  Preferred :   B   \n   Confidence score :   40  ", "B", 40),
        ("### Preferred: (A)\nConfidence score (0-100): 77.5", "A", 78),  # 77.5 rounds half up
        ("Preferred: B (closer methods fit)\nConfidence score: 90.", "B", 90),
        ("Preferred: Candidate A, whose papers use the methods.\nConfidence: 8/10", "A", 80),
        ("Preferred - A\nConfidence = 55", "A", 55),
        ("Preferred: `B`\nConfidence score: 0", "B", 0),
        ("Preferred: A\nConfidence score: 30\nOn reflection:\nPreferred: B\nConfidence score: 75", "B", 75),
        ("Confidence score: 60\nPreferred: A", "A", 60),  # order of the two lines does not matter
    ],
)
def test_parse_variants(tail: str, preferred: str, confidence: int) -> None:
    text = REASON + tail
    judgement = parse_judgement(text)
    assert (judgement.preferred, judgement.confidence_score) == (preferred, confidence)
    assert judgement.response == text


@pytest.mark.parametrize(
    "tail",
    [
        "Both are good candidates.",  # no verdict at all
        "Preferred: A\n",  # no confidence
        "Confidence score: 80",  # no preferred
        "The preferred candidate is A.\nConfidence score: 70",  # prose, not the asked-for line
        "Preferred: A or B\nConfidence score: 50",
        "Preferred: A/B\nConfidence score: 50",
        "Preferred: neither\nConfidence score: 50",
        "Preferred: a candidate with more papers\nConfidence score: 50",
        "Preferred: <A or B>\nConfidence score: <an integer from 0 to 100>",  # the format echoed back
        "Preferred: A\nConfidence score: high",
        "Preferred: A\nConfidence score: 0.8",  # 0-1 or 0-100 scale? don't guess
        "Preferred: A\nConfidence score: 120",
        "Preferred: A\nConfidence score: 70-80",
        "Preferred: A\nConfidence score: 80\nPreferred: unsure",  # the last verdict line is unreadable
    ],
)
def test_parse_refuses_to_guess(tail: str) -> None:
    with pytest.raises(JudgementParseError) as caught:
        parse_judgement(REASON + tail)
    assert caught.value.text == REASON + tail


def test_render_substitutes_once_and_keeps_other_braces() -> None:
    template = "JD {query}\nA {passage_a}\nB {passage_b}\nliteral {braces} {}"
    text = render_prompt(template, "needs {passage_b}", "a {x}", "b")
    assert text == "JD needs {passage_b}\nA a {x}\nB b\nliteral {braces} {}"
    assert prompt_hash(text) == prompt_hash(text) and len(prompt_hash(text)) == 64
    assert prompt_hash(text) != prompt_hash(render_prompt(template, "q", "b", "a {x}"))


def test_default_template_asks_for_the_verdict_lines() -> None:
    text = render_prompt(DEFAULT_TEMPLATE, "QUERY", "PASSAGE-A", "PASSAGE-B")
    assert text.index("QUERY") < text.index("PASSAGE-A") < text.index("PASSAGE-B")
    assert "Preferred:" in text and "Confidence score:" in text
    with pytest.raises(JudgementParseError):  # a model echoing the instructions gives no verdict
        parse_judgement(text)


def test_template_without_placeholders_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\{passage_b\}"):
        render_prompt("{query} {passage_a}", "q", "a", "b")
