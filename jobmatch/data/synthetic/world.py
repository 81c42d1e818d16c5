"""The synthetic world: institutions, a talent corpus, and postings kept for their rule positives.

Postings are drawn one candidate at a time; a candidate is kept when its rule positives number
``min_positives..max_positives`` (the paper's sample has 1-10 per posting), so that every posting
has positives and none has so many that the qrels become trivial.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from jobmatch.data.synthetic.config import SyntheticConfig
from jobmatch.data.synthetic.entities import JD, Talent
from jobmatch.data.synthetic.names import draw_identity, with_identity
from jobmatch.data.synthetic.places import build_institutions
from jobmatch.data.synthetic.postings import make_posting
from jobmatch.data.synthetic.rules import is_match
from jobmatch.data.synthetic.seeding import rng_for
from jobmatch.data.synthetic.talents import make_talent
from jobmatch.data.synthetic.vocabulary import Vocabulary, load_vocabulary

MAX_ATTEMPTS_PER_JD = 50


@dataclass(frozen=True)
class World:
    """Talents, kept postings (in-distribution ``jds``, out-of-distribution ``ood_jds``), and each posting's
    rule positives (talent ids, sorted)."""

    config: SyntheticConfig
    talents: tuple[Talent, ...]
    jds: tuple[JD, ...]
    positives: Mapping[str, tuple[str, ...]]
    candidates_drawn: int
    rejected_without_positive: int
    rejected_too_many: int
    ood_jds: tuple[JD, ...] = ()
    _talent_index: dict[str, Talent] = field(init=False, repr=False, compare=False)
    _jd_index: dict[str, JD] = field(init=False, repr=False, compare=False)
    _field_index: dict[str, tuple[Talent, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_field: dict[str, list[Talent]] = defaultdict(list)
        for t in self.talents:
            for f in t.fields:
                by_field[f].append(t)
        object.__setattr__(self, "_talent_index", {t.id: t for t in self.talents})
        object.__setattr__(self, "_jd_index", {j.id: j for j in self.jds + self.ood_jds})
        object.__setattr__(self, "_field_index", {f: tuple(ts) for f, ts in by_field.items()})

    def talent(self, talent_id: str) -> Talent:
        """The talent with this id."""
        return self._talent_index[talent_id]

    def jd(self, jd_id: str) -> JD:
        """The posting with this id."""
        return self._jd_index[jd_id]

    def talents_in_field(self, field_name: str) -> tuple[Talent, ...]:
        """Talents with a subfield in ``field_name`` (the only ones that can meet the area rule)."""
        return self._field_index.get(field_name, ())


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
    if config.talent_identities:  # a stream of its own: the rest of the market is drawn as without
        talents = tuple(_identified(t, config.seed, i) for i, t in enumerate(talents))
    by_place: dict[tuple[str, str], list[Talent]] = defaultdict(list)
    for t in talents:
        for f in t.fields:
            by_place[f, t.region].append(t)
    unknown = sorted(set(config.ood_subfields) - {s.name for s in vocab.subfields})
    if unknown:
        raise ValueError(f"SyntheticConfig.ood_subfields names unknown subfields {unknown}; "
                         f"choose among {[s.name for s in vocab.subfields]}")
    jds: list[JD] = []
    ood_jds: list[JD] = []
    positives: dict[str, tuple[str, ...]] = {}
    counts = {"none": 0, "many": 0}
    attempt = 0
    while len(jds) < config.n_jds or len(ood_jds) < config.n_ood():
        if attempt >= MAX_ATTEMPTS_PER_JD * (config.n_jds + config.n_ood()):
            raise ValueError(_too_few_message(config, attempt, len(jds), counts))
        jd = make_posting(
            vocab,
            rng_for(config.seed, "posting", attempt),
            f"candidate-{attempt}",
            institutions,
            relocation_probability=config.relocation_probability,
            two_level_probability=config.two_level_probability,
        )
        attempt += 1
        ood = jd.subfield in config.ood_subfields
        if len(ood_jds if ood else jds) >= (config.n_ood() if ood else config.n_jds):
            continue  # that pool is full
        # Geography needs the same region and area needs the same field: only that bucket can match.
        matched = [
            t.id
            for t in by_place[jd.field, jd.region]
            if is_match(jd, t, min_shared_keywords=config.min_shared_keywords)
        ]
        if len(matched) < config.min_positives:
            counts["none"] += 1
            continue
        if len(matched) > config.max_positives:
            counts["many"] += 1
            continue
        kept = ood_jds if ood else jds
        jd = dataclasses.replace(jd, id=f"jd-ood-{len(kept):05d}" if ood else f"jd-{len(kept):05d}")
        kept.append(jd)
        positives[jd.id] = tuple(sorted(matched))
    return World(
        config=config,
        talents=talents,
        jds=tuple(jds),
        positives=positives,
        candidates_drawn=attempt,
        rejected_without_positive=counts["none"],
        rejected_too_many=counts["many"],
        ood_jds=tuple(ood_jds),
    )


def _identified(talent: Talent, seed: int, index: int) -> Talent:
    identity = draw_identity(rng_for(seed, "identity", index))
    return dataclasses.replace(talent, identity=identity, text=with_identity(talent.text, identity))


def _too_few_message(config: SyntheticConfig, attempts: int, kept: int, counts: dict[str, int]) -> str:
    return (
        f"synthetic world: only {kept} of n_jds={config.n_jds} postings found with "
        f"{config.min_positives}..{config.max_positives} rule positives after {attempts} candidates "
        f"({counts['none']} had too few, {counts['many']} too many). With too few, raise n_talents or "
        "relocation_probability; with too many, lower them or raise max_positives."
    )
