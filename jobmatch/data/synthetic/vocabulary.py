"""The package-data vocabulary of the synthetic market, loaded once into typed, validated objects.

``vocabulary.yaml`` holds places, institutions, career stages and research terms (topics and
methods by field and subfield); ``templates.yaml`` holds the text templates. Both are small files
written for this project. :func:`load_vocabulary` checks that every research term is unique
(case-insensitively), because the offline judge reads texts by finding these exact phrases.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

_PACKAGE = "jobmatch.data.synthetic"
VOCABULARY_FILE = "vocabulary.yaml"
TEMPLATES_FILE = "templates.yaml"


@dataclass(frozen=True, slots=True)
class Country:
    """A country, its region, relative weight and cities; ``salary_factor`` converts GBP thousands."""

    name: str
    region: str
    weight: float
    currency: str
    salary_factor: float
    cities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StageInfo:
    """A career stage: how it is named, how long since a first publication, how prolific."""

    key: str
    label: str
    years: tuple[int, int]
    publications: tuple[int, int]
    titles: tuple[str, ...]
    posting_titles: tuple[str, ...]
    salary_k: int


@dataclass(frozen=True, slots=True)
class Subfield:
    """A subfield of research with its own topics and methods."""

    name: str
    field: str
    topics: tuple[str, ...]
    methods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Field:
    """A field: departments that host it, methods shared by its subfields, and the subfields."""

    name: str
    departments: tuple[str, ...]
    methods: tuple[str, ...]
    subfields: tuple[Subfield, ...]


@dataclass(frozen=True)
class Vocabulary:
    """Everything the generator, the renderers and the judge draw words from."""

    reference_year: int
    countries: tuple[Country, ...]
    institution_patterns: tuple[str, ...]
    institution_founders: tuple[str, ...]
    institutions_per_city: tuple[int, int]
    stages: tuple[StageInfo, ...]
    generic_methods: tuple[str, ...]
    fields: tuple[Field, ...]
    templates: dict[str, Any]
    digest: str

    @property
    def subfields(self) -> tuple[Subfield, ...]:
        """All subfields, field by field."""
        return tuple(s for f in self.fields for s in f.subfields)

    @property
    def regions(self) -> tuple[str, ...]:
        """Region names in file order."""
        return tuple(dict.fromkeys(c.region for c in self.countries))

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"unknown field {name!r}")

    def subfield(self, name: str) -> Subfield:
        """The subfield called ``name``."""
        for s in self.subfields:
            if s.name == name:
                return s
        raise KeyError(f"unknown subfield {name!r}")

    def country(self, name: str) -> Country:
        """The country called ``name``."""
        for c in self.countries:
            if c.name == name:
                return c
        raise KeyError(f"unknown country {name!r}")

    @property
    def topics(self) -> tuple[str, ...]:
        """Every research topic."""
        return tuple(t for s in self.subfields for t in s.topics)

    @property
    def methods(self) -> tuple[str, ...]:
        """Every method: subfield, field-level and generic."""
        field_level = tuple(m for f in self.fields for m in f.methods)
        return tuple(m for s in self.subfields for m in s.methods) + field_level + self.generic_methods


def _countries(raw: list[dict[str, Any]]) -> tuple[Country, ...]:
    return tuple(
        Country(
            name=c["name"],
            region=r["region"],
            weight=float(c["weight"]),
            currency=c["currency"],
            salary_factor=float(c["salary_factor"]),
            cities=tuple(c["cities"]),
        )
        for r in raw
        for c in r["countries"]
    )


def _fields(raw: list[dict[str, Any]]) -> tuple[Field, ...]:
    return tuple(
        Field(
            name=f["name"],
            departments=tuple(f["departments"]),
            methods=tuple(f["methods"]),
            subfields=tuple(
                Subfield(name=s["name"], field=f["name"], topics=tuple(s["topics"]), methods=tuple(s["methods"]))
                for s in f["subfields"]
            ),
        )
        for f in raw
    )


def _check_unique_terms(vocab: Vocabulary) -> None:
    names = [f.name for f in vocab.fields] + [s.name for s in vocab.subfields]
    seen: dict[str, str] = {n.lower(): "a field or subfield name" for n in names}
    for kind, terms in (("topic", vocab.topics), ("method", vocab.methods)):
        for term in terms:
            key = term.lower()
            if key in seen:
                raise ValueError(f"vocabulary term {term!r} ({kind}) duplicates {seen[key]}; terms must be unique")
            seen[key] = f"a {kind}"


def _read(name: str) -> str:
    return resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    """Load and validate the package vocabulary and templates (cached)."""
    vocab_text, templates_text = _read(VOCABULARY_FILE), _read(TEMPLATES_FILE)
    raw = yaml.safe_load(vocab_text)
    stages = tuple(
        StageInfo(
            key=s["key"],
            label=s["label"],
            years=tuple(s["years"]),
            publications=tuple(s["publications"]),
            titles=tuple(s["titles"]),
            posting_titles=tuple(s["posting_titles"]),
            salary_k=int(s["salary_k"]),
        )
        for s in raw["stages"]
    )
    vocab = Vocabulary(
        reference_year=int(raw["reference_year"]),
        countries=_countries(raw["geography"]),
        institution_patterns=tuple(raw["institutions"]["patterns"]),
        institution_founders=tuple(raw["institutions"]["founders"]),
        institutions_per_city=tuple(raw["institutions"]["per_city"]),
        stages=stages,
        generic_methods=tuple(raw["generic_methods"]),
        fields=_fields(raw["fields"]),
        templates=yaml.safe_load(templates_text),
        digest=hashlib.sha256((vocab_text + "\0" + templates_text).encode("utf-8")).hexdigest()[:16],
    )
    _check_unique_terms(vocab)
    return vocab
