"""Small text helpers shared by the renderers: template filling and list phrasing."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any


def capitalise(text: str) -> str:
    """Upper-case the first character only (keeps acronyms and proper names intact)."""
    return text[:1].upper() + text[1:]


def fill(template: str, **values: Any) -> str:
    """Fill a template's ``{placeholders}`` and capitalise the first letter."""
    return capitalise(template.format(**values))


def and_list(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def pick(rng: random.Random, options: Sequence[str]) -> str:
    """One option, uniformly."""
    return options[rng.randrange(len(options))]
