"""Institutions of the synthetic market: one to a few per city, named from the vocabulary's patterns."""

from __future__ import annotations

import random
from collections.abc import Sequence

from jobmatch.data.synthetic.entities import Institution
from jobmatch.data.synthetic.text import pick
from jobmatch.data.synthetic.vocabulary import Country, Vocabulary


def build_institutions(vocab: Vocabulary, rng: random.Random) -> dict[str, tuple[Institution, ...]]:
    """Institutions by city, with names unique across the world."""
    low, high = vocab.institutions_per_city
    taken: set[str] = set()
    by_city: dict[str, tuple[Institution, ...]] = {}
    for country in vocab.countries:
        for city in country.cities:
            made: list[Institution] = []
            for _ in range(rng.randint(low, high)):
                name = _unique_name(vocab, rng, city, taken)
                taken.add(name)
                made.append(Institution(name=name, city=city, country=country.name, region=country.region))
            by_city[city] = tuple(made)
    return by_city


def _unique_name(vocab: Vocabulary, rng: random.Random, city: str, taken: set[str]) -> str:
    for _ in range(100):
        name = pick(rng, vocab.institution_patterns).format(city=city, founder=pick(rng, vocab.institution_founders))
        if name not in taken:
            return name
    raise RuntimeError(f"could not name a new institution in {city}; add institution patterns or founders")


def pick_country(vocab: Vocabulary, rng: random.Random) -> Country:
    """A country, proportionally to its weight."""
    return rng.choices(vocab.countries, weights=[c.weight for c in vocab.countries])[0]


def pick_institution(
    vocab: Vocabulary, rng: random.Random, institutions: dict[str, tuple[Institution, ...]]
) -> Institution:
    """A weighted country, a uniform city in it, a uniform institution in the city."""
    city = pick(rng, pick_country(vocab, rng).cities)
    options: Sequence[Institution] = institutions[city]
    return options[rng.randrange(len(options))]
