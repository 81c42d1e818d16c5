"""What a valid option value is (a number in a range, one of some choices, a subset of them, a flag), and
:func:`option`, the dataclass field that declares an option once: its default, rule and one-line doc.

Each rule answers ``problem(value)`` with ``None`` (fine) or a short phrase saying what was expected, and
``describe()`` with what it accepts (for the generated config reference); the application adds the option's
name, its value and the fix. Library dataclasses (e.g. :class:`jobmatch.losses.options.PreferenceOptions`)
declare their fields with :func:`option` too, so the application checks and documents them from there.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jobmatch.errors import OptionError


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

    def describe(self) -> str:
        return f"one of {', '.join(self.options)}" + (" or null" if self.nullable else "")

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

    def describe(self) -> str:
        least = f", at least {self.min_len}" if self.min_len else ""
        return f"a list of {', '.join(self.options)}{least}"

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

    def describe(self) -> str:
        return f"a non-empty list of integers >= {self.low}"

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, list | tuple) or not value or not all(is_number(v, integer=True) for v in value):
            return f"expected a non-empty list of integers >= {self.low}"
        if min(value) < self.low:
            return f"out of range: expected integers >= {self.low}"
        return None

    def suggest(self, value: Any) -> str | None:
        """No guess for lists of numbers."""
        return None


@dataclass(frozen=True)
class Registered:
    """One of the names ``source()`` returns when asked (a registry that grows as modules register into it)."""

    source: Callable[[], tuple[str, ...]]
    what: str = "a registered name"

    def describe(self) -> str:
        return f"{self.what}: {', '.join(self.source())}"

    def problem(self, value: Any) -> str | None:
        return Choice(self.source()).problem(value)

    def suggest(self, value: Any) -> str | None:
        return Choice(self.source()).suggest(value)


@dataclass(frozen=True)
class Flag:
    """``true`` or ``false``."""

    def describe(self) -> str:
        return "true or false"

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, bool) else "expected true or false"

    def suggest(self, value: Any) -> str | None:
        """The flag a misspelt word is nearest to."""
        return closest(show(value), ("true", "false"))


Rule = Num | Choice | Subset | IntList | Registered | Flag

POSITIVE = Num(low=0, low_open=True)
FRACTION = Num(low=0, high=1, high_open=True)
RATIO = Num(low=0, high=1)


def option(default: Any, doc: str, rule: Rule | None = None, *, example: str | None = None, free: bool = False,
           schema: type | None = None) -> Any:
    """A dataclass field declaring one option: its ``default`` (a dataclass type: a nested group of options), the
    ``rule`` its values obey (None: any value; a ``bool`` field: true or false), a one-line ``doc``, an ``example``
    of a good value for the fix (default: the default), ``free``: a mapping whose own keys are not checked (a
    model's inline ``config``), and ``schema``: the dataclass a mapping value follows when the default is null."""
    nested = isinstance(default, type) and dataclasses.is_dataclass(default)
    meta = {"doc": doc, "rule": rule, "example": example, "free": free, "schema": default if nested else schema}
    if nested:
        return dataclasses.field(default_factory=default, metadata=meta)
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class OptionSpec:
    """What :func:`option` declared about one dataclass field."""

    name: str
    default: Any
    doc: str
    rule: Rule | None
    example: str
    free: bool
    type: str
    schema: type | None

    @classmethod
    def of(cls, field: dataclasses.Field) -> OptionSpec:
        """The spec of ``field`` (a field declared without :func:`option` has no doc and no rule)."""
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = None
        meta = field.metadata
        kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
        rule = meta.get("rule") or (Flag() if kind == "bool" else None)
        example = meta.get("example") or (show(default) if not dataclasses.is_dataclass(default) else "")
        return cls(field.name, default, meta.get("doc", ""), rule, example, bool(meta.get("free")), kind,
                   meta.get("schema"))


def option_specs(schema: type) -> list[OptionSpec]:
    """The options a dataclass declares, in field order."""
    return [OptionSpec.of(field) for field in dataclasses.fields(schema)]


def check_fields(options: Any) -> None:
    """Every field of the dataclass instance ``options`` against the rule it declares.

    Raises:
        OptionError: ``{name}=value: problem; fix`` for the first field whose value breaks its rule.
    """
    for spec in option_specs(type(options)):
        value = getattr(options, spec.name)
        problem = spec.rule.problem(value) if spec.rule is not None else None
        if problem:
            near = spec.rule.suggest(value)  # type: ignore[union-attr]
            fix = f"did you mean {{{spec.name}}}={near}?" if near else f"pass e.g. {{{spec.name}}}={spec.example}"
            raise OptionError(f"{{{spec.name}}}={show(value)}: {problem}; {fix}")
