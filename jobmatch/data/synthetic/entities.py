"""The raw objects of the synthetic market: institutions, publications, talents and postings (JDs).

Career stages are integers indexing ``Vocabulary.stages`` (0 = PhD student ... 4 = full professor),
so that "within one step" is arithmetic. Every object carries its rendered ``text``; the rules read
the attributes, the offline judge reads only the texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobmatch.data.synthetic.names import Identity


@dataclass(frozen=True, slots=True)
class Institution:
    """A university or institute in a city."""

    name: str
    city: str
    country: str
    region: str


@dataclass(frozen=True, slots=True)
class Publication:
    """One rendered publication of a talent and the research terms it uses."""

    title: str
    abstract: str
    topics: tuple[str, ...]
    methods: tuple[str, ...]


class _Located:
    """Country and region of an entity's ``institution`` (a talent's home, a JD's employer)."""

    __slots__ = ()
    institution: Institution

    @property
    def country(self) -> str:
        """Country of the institution."""
        return self.institution.country

    @property
    def region(self) -> str:
        """Region of the institution."""
        return self.institution.region


@dataclass(frozen=True, slots=True)
class Talent(_Located):
    """A researcher (a passage): where, how senior, what research, and the rendered profile."""

    id: str
    institution: Institution
    years_active: int
    stage: int
    subfields: tuple[str, ...]
    fields: tuple[str, ...]
    topics: tuple[str, ...]
    methods: tuple[str, ...]
    publications: tuple[Publication, ...]
    n_publications: int
    text: str
    identity: Identity | None = None
    """Name and pronouns shown on the profile's first line (None: no identity line)."""

    keywords: frozenset[str] = field(init=False, repr=False, compare=False)
    """Research terms of the profile's keyword list (topics and methods); derived."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", frozenset(self.topics) | frozenset(self.methods))


@dataclass(frozen=True, slots=True)
class JD(_Located):
    """An academic posting (a query): where, which levels, what research, terms, and its text."""

    id: str
    institution: Institution
    levels: tuple[int, ...]
    field: str
    subfield: str
    topics: tuple[str, ...]
    required_methods: tuple[str, ...]
    preferred_methods: tuple[str, ...]
    emphasis: str
    contract: str
    allows_relocation: bool
    text: str

    keywords: frozenset[str] = field(init=False, repr=False, compare=False)
    """Research terms the posting asks for (topics, required and preferred methods); derived."""

    def __post_init__(self) -> None:
        terms = frozenset(self.topics) | frozenset(self.required_methods) | frozenset(self.preferred_methods)
        object.__setattr__(self, "keywords", terms)
