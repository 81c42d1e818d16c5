"""What a valid option value is: a number in a range, one of some choices, or a subset of them.

Each rule answers ``problem(value)`` with ``None`` (fine) or a short phrase saying what was expected;
:mod:`jobmatch.app.validation` adds the option's name, its value and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def show(value: Any) -> str:
    """A value as it is written on the command line (``[a, b]``, ``null``, ``true``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def closest(word: str, known: Sequence[str]) -> str | None:
    """The known word nearest to a misspelt one, if any is close."""
    found = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return found[0] if found else None


def is_number(value: Any, *, integer: bool = False) -> bool:
    """A real int/float (bools and numeric-looking strings are not)."""
    kinds = (int,) if integer else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool)


@dataclass(frozen=True)
class Num:
    """A number in [low, high]; ``low_open``/``high_open`` exclude an end; ``integer``: ints only."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    nullable: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            text = f"{kind} in {left}{show(self.low)}, {show(self.high)}{right}"
        elif self.low is not None:
            text = f"{kind} {'>' if self.low_open else '>='} {show(self.low)}"
        elif self.high is not None:
            text = f"{kind} {'<' if self.high_open else '<='} {show(self.high)}"
        else:
            text = kind
        return text + (" or null" if self.nullable else "")

    def problem(self, value: Any) -> str | None:
        if value is None and self.nullable:
            return None
        if not is_number(value, integer=self.integer) or value != value:  # NaN fails every range
            return f"expected {self.describe()}"
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        return f"out of range: expected {self.describe()}" if too_low or too_high else None

    def suggest(self, value: Any) -> str | None:
        """No guess for numbers."""
        return None


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (or null when ``nullable``)."""

    options: tuple[str, ...]
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        if (value is None and self.nullable) or value in self.options:
            return None
        return f"expected one of {', '.join(self.options)}"

    def suggest(self, value: Any) -> str | None:
        """The option nearest to a misspelt value."""
        return closest(show(value), self.options)


@dataclass(frozen=True)
class Subset:
    """A list whose items are all among ``options`` (``null`` is the empty list); ``min_len`` items at least."""

    options: tuple[str, ...]
    min_len: int = 0

    def problem(self, value: Any) -> str | None:
        items = [] if value is None else value
        if not isinstance(items, list | tuple):
            return f"expected a list of {', '.join(self.options)}"
        for item in items:
            if item not in self.options:
                return f"{show(item)} is not one of {', '.join(self.options)}"
        if len(items) < self.min_len:
            return f"expected at least {self.min_len} of {', '.join(self.options)}"
        return None

    def suggest(self, value: Any) -> str | None:
        """The list with each misspelt item replaced by its nearest option (None: some has none)."""
        if not isinstance(value, list | tuple):
            return None
        fixed = [item if item in self.options else closest(show(item), self.options) for item in value]
        return None if None in fixed else show(fixed).replace(" ", "")


@dataclass(frozen=True)
class IntList:
    """A non-empty list of integers >= ``low``."""

    low: int = 1

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, list | tuple) or not value or not all(is_number(v, integer=True) for v in value):
            return f"expected a non-empty list of integers >= {self.low}"
        if min(value) < self.low:
            return f"out of range: expected integers >= {self.low}"
        return None

    def suggest(self, value: Any) -> str | None:
        """No guess for lists of numbers."""
        return None


Rule = Num | Choice | Subset | IntList
