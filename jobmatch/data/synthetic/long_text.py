"""Real-length texts: more publications per profile, longer abstracts, more paragraphs per posting.

``SyntheticConfig.profile_length="real"`` renders each talent and posting as in the short market and
then adds text drawn from a stream of its own (``rng_for(seed, "talent-long", i)``,
``rng_for(seed, "posting-long", attempt)``), so a real-length market has the same attributes, rule
positives and negatives as the short market of its seed. Added publications are built like the short
ones (a title and an abstract that use the talent's own topics and methods, in proportion to its
method weights), so the offline judge's signal (methods in titles and abstracts) grows with the
profile as a real one would; the added sentences (``templates_long.yaml``) carry no research terms.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

LONG_TEMPLATES_FILE = "templates_long.yaml"


class LongTexts:
    """The added-text templates (``templates_long.yaml``) and how many of each to draw."""

    POSTING_PARAGRAPHS: tuple[str, ...] = ("about", "group", "duties", "person", "offer", "process")
    ABSTRACT_PARTS: tuple[tuple[str, int, int], ...] = (
        ("background", 1, 2),
        ("design", 1, 2),
        ("findings", 1, 2),
        ("implications", 0, 1),
    )

    def __init__(self, text: str) -> None:
        raw = yaml.safe_load(text)
        self.templates: dict[str, Any] = raw
        self.digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        self._added = [tuple(bounds) for bounds in raw["talent"]["added_publications"]]

    def publications_to_add(self, stage: int, rng: random.Random) -> int:
        """Publications added to a profile of career ``stage`` (uniform in the stage's range)."""
        return rng.randint(*self._added[stage])

    def abstract_sentences(self, rng: random.Random) -> dict[str, list[str]]:
        """Sentence templates added to one abstract, by where they go."""
        pools = self.templates["talent"]["abstract"]
        return {name: rng.sample(pools[name], rng.randint(low, high)) for name, low, high in self.ABSTRACT_PARTS}

    def posting_paragraphs(self, rng: random.Random) -> dict[str, list[str]]:
        """Sentence templates of each added posting paragraph (see :attr:`POSTING_PARAGRAPHS`)."""
        out = {}
        for name in self.POSTING_PARAGRAPHS:
            spec = self.templates["posting"][name]
            out[name] = rng.sample(spec["sentences"], rng.randint(spec["fewest"], spec["most"]))
        return out


@dataclass(frozen=True)
class LongDraw:
    """What a renderer needs to add real-length text: the templates and the item's own stream."""

    texts: LongTexts
    rng: random.Random


@lru_cache(maxsize=1)
def long_texts() -> LongTexts:
    """The package's added-text templates (loaded once)."""
    return LongTexts(resources.files("jobmatch.data.synthetic").joinpath(LONG_TEMPLATES_FILE).read_text("utf-8"))
