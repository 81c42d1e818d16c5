"""The synthetic world: institutions, a talent corpus, and postings kept for their rule positives.

Postings are drawn one candidate at a time; a candidate is kept when its rule positives number
``min_positives..max_positives`` (the paper's sample has 1-10 per posting), so that every posting
has positives and none has so many that the qrels become trivial.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from jobmatch.data.synthetic.config import SyntheticConfig
from jobmatch.data.synthetic.entities import JD, Talent
from jobmatch.data.synthetic.places import build_institutions
from jobmatch.data.synthetic.postings import make_posting
from jobmatch.data.synthetic.rules import is_match
from jobmatch.data.synthetic.seeding import rng_for
from jobmatch.data.synthetic.talents import make_talent
from jobmatch.data.synthetic.vocabulary import Vocabulary, load_vocabulary

MAX_ATTEMPTS_PER_JD = 50


@dataclass(frozen=True)
class World:
    """Talents, kept postings, and each posting's rule positives (talent ids, sorted)."""

    config: SyntheticConfig
    talents: tuple[Talent, ...]
    jds: tuple[JD, ...]
    positives: Mapping[str, tuple[str, ...]]
    candidates_drawn: int
    rejected_without_positive: int
    rejected_too_many: int

    def talent(self, talent_id: str) -> Talent:
        """The talent with this id."""
        return self._talents_by_id[talent_id]

    @property
    def _talents_by_id(self) -> dict[str, Talent]:
        cache = self.__dict__.get("_by_id")
        if cache is None:
            cache = {t.id: t for t in self.talents}
            object.__setattr__(self, "_by_id", cache)
        return cache

    def talents_in_field(self, field: str) -> tuple[Talent, ...]:
        """Talents with at least one subfield in ``field`` (the only ones that can meet the area rule)."""
        index = self.__dict__.get("_by_field")
        if index is None:
            grouped: dict[str, list[Talent]] = defaultdict(list)
            for t in self.talents:
                for f in t.fields:
                    grouped[f].append(t)
            index = {f: tuple(ts) for f, ts in grouped.items()}
            object.__setattr__(self, "_by_field", index)
        return index.get(field, ())


def build_world(config: SyntheticConfig, vocab: Vocabulary | None = None) -> World:
    """Generate the talents and the postings of ``config``, deterministically from its seed.

    Raises:
        ValueError: too few candidate postings had an acceptable number of positives.
    """
    vocab = vocab or load_vocabulary()
    institutions = build_institutions(vocab, rng_for(config.seed, "institutions"))
    talents = tuple(
        make_talent(vocab, rng_for(config.seed, "talent", i), f"talent-{i:05d}", institutions)
        for i in range(config.n_talents)
    )
    by_place: dict[tuple[str, str], list[Talent]] = defaultdict(list)
    for t in talents:
        for f in t.fields:
            by_place[f, t.region].append(t)
    jds: list[JD] = []
    positives: dict[str, tuple[str, ...]] = {}
    counts = {"none": 0, "many": 0}
    attempt = 0
    while len(jds) < config.n_jds:
        if attempt >= MAX_ATTEMPTS_PER_JD * config.n_jds:
            raise ValueError(_too_few_message(config, attempt, len(jds), counts))
        jd = make_posting(
            vocab, rng_for(config.seed, "posting", attempt), f"candidate-{attempt}", institutions,
            relocation_probability=config.relocation_probability,
            two_level_probability=config.two_level_probability,
        )
        attempt += 1
        # Geography needs the same region and area needs the same field: only that bucket can match.
        matched = [t.id for t in by_place[jd.field, jd.region]
                   if is_match(jd, t, min_shared_keywords=config.min_shared_keywords)]
        if len(matched) < config.min_positives:
            counts["none"] += 1
            continue
        if len(matched) > config.max_positives:
            counts["many"] += 1
            continue
        jd = dataclasses.replace(jd, id=f"jd-{len(jds):05d}")
        jds.append(jd)
        positives[jd.id] = tuple(sorted(matched))
    return World(
        config=config, talents=talents, jds=tuple(jds), positives=positives, candidates_drawn=attempt,
        rejected_without_positive=counts["none"], rejected_too_many=counts["many"],
    )


def _too_few_message(config: SyntheticConfig, attempts: int, kept: int, counts: dict[str, int]) -> str:
    return (
        f"synthetic world: only {kept} of n_jds={config.n_jds} postings found with "
        f"{config.min_positives}..{config.max_positives} rule positives after {attempts} candidates "
        f"({counts['none']} had too few, {counts['many']} too many). With too few, raise n_talents or "
        "relocation_probability; with too many, lower them or raise max_positives."
    )
