"""PII redaction before a remote judge: every kind replaced, ordinary numbers and words kept."""

from __future__ import annotations

import pytest

from jobmatch.privacy import PLACEHOLDERS, redact


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        ("Contact: jane.doe+jobs@cs.uni-example.ac.uk today", "email", "jane.doe+jobs@cs.uni-example.ac.uk"),
        ("Homepage https://example.org/~jdoe/index.html.", "url", "https://example.org/~jdoe/index.html"),
        ("see www.example.com/people/jdoe for more", "url", "www.example.com/people/jdoe"),
        ("see example.edu/people/jdoe, please", "url", "example.edu/people/jdoe"),
        ("ORCID: 0000-0002-1825-009X", "orcid", "0000-0002-1825-009X"),
        ("Phone +44 (0)20 7946 0958 (office)", "phone", "+44 (0)20 7946 0958"),
        ("call 555-867-5309 now", "phone", "555-867-5309"),
    ],
)
def test_each_kind_is_replaced(text: str, kind: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out.text
    assert PLACEHOLDERS[kind] in out.text
    assert out.counts == {kind: 1}


def test_names_full_and_parts_case_insensitive() -> None:
    text = "Maria Garcia-Lopez (she/her). Dr. garcia-lopez leads; Garcia et al. (2019). Mariana stays."
    out = redact(text, names=["Maria Garcia-Lopez"])
    assert "Garcia" not in out.text and "garcia" not in out.text
    assert "Mariana stays" in out.text  # a whole-word match only
    assert out.counts == {"name": 3}
    assert out.text.startswith("[NAME] (she/her). Dr. [NAME] leads; [NAME] et al.")


def test_years_counts_and_markup_are_kept() -> None:
    text = "Active 2010-2020 (14 years), 1200000 samples, n = 35.<keyword>survey methods<sep>GIS</keyword>"
    out = redact(text, names=[])
    assert out.text == text and out.counts == {} and out.total == 0


def test_an_email_counts_once_not_also_as_url_or_name() -> None:
    out = redact("mail maria.garcia@uni.edu", names=["Maria Garcia"])
    assert out.text == "mail [EMAIL]" and out.counts == {"email": 1}
