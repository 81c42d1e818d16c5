"""Splits and contrastive rows: each posting's rule positives and its sampled negatives.

Negatives violate at least one rule. A share ``hard_negative_fraction`` comes from talents in the
posting's research area that fail geography or seniority (the pairs the offline judge weighs only
weakly, so that stage 1 learns every rule and the judge disagrees with the rules on some pairs);
the rest are uniformly random non-matching talents. With ``labels="complete"`` they are drawn from
the complete pools (a scan of the posting's field); with ``labels="sampled"`` by rejection from the
field's talents, a bounded number of draws per negative, and a rule match is never taken (it may be
an unlabelled positive).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jobmatch.data.records import ContrastiveRecord
from jobmatch.data.synthetic.entities import JD, Talent
from jobmatch.data.synthetic.match_rules import area_ok, is_match
from jobmatch.data.synthetic.seeding import rng_for
from jobmatch.data.synthetic.world import World

SPLITS: tuple[str, ...] = ("train", "val", "test")
OOD_SPLIT = "test_ood"  # postings in SyntheticConfig.ood_subfields: never in the three splits above
DRAWS_PER_NEGATIVE = 50  # sampled labels: draw budget per negative sought


@dataclass(frozen=True, slots=True)
class Row:
    """A posting's labels by id: its rule positives and its negatives (talent ids)."""

    query_id: str
    positive_ids: tuple[str, ...]
    negative_ids: tuple[str, ...]


def split_jds(world: World) -> dict[str, tuple[JD, ...]]:
    """Disjoint train/val/test postings, shuffled by the seed and cut by the config's fractions."""
    order = list(world.jds)
    rng_for(world.config.seed, "splits").shuffle(order)
    n_train, n_val, _ = world.config.split_sizes()
    cuts = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    return {name: tuple(sorted(jds, key=lambda j: j.id)) for name, jds in cuts.items()}


def sample_negatives(world: World, jd: JD) -> tuple[Talent, ...]:
    """``n_negatives`` distinct talents that each violate at least one rule for ``jd``."""
    if world.config.labels == "sampled":
        return _drawn_negatives(world, jd)
    config = world.config
    rng = rng_for(config.seed, "negatives", jd.id)
    positives = set(world.positives[jd.id])
    hard_pool = [
        t
        for t in world.talents_in_field(jd.field)
        if t.id not in positives and area_ok(jd, t, min_shared_keywords=config.min_shared_keywords)
    ]
    n_hard = min(len(hard_pool), round(config.n_negatives * config.hard_negative_fraction))
    chosen = rng.sample(hard_pool, n_hard)
    taken = positives | {t.id for t in chosen}
    while len(chosen) < config.n_negatives:
        talent = world.talents[rng.randrange(len(world.talents))]
        if talent.id not in taken:  # positives are taken: anything else violates a rule
            chosen.append(talent)
            taken.add(talent.id)
    return tuple(chosen)


def _drawn_negatives(world: World, jd: JD) -> tuple[Talent, ...]:
    """Negatives by rejection: hard ones from the posting's field, then random non-matches."""
    config = world.config
    rng = rng_for(config.seed, "negatives", jd.id)
    taken = set(world.positives[jd.id])
    k = config.min_shared_keywords
    n_hard = round(config.n_negatives * config.hard_negative_fraction)
    chosen = _draw(
        rng, world.index.in_field(jd.field), n_hard, taken, lambda t: area_ok(jd, t, min_shared_keywords=k)
        and not is_match(jd, t, min_shared_keywords=k),
    )
    chosen += _draw(
        rng, world.index.everyone(), config.n_negatives - len(chosen), taken,
        lambda t: not is_match(jd, t, min_shared_keywords=k),
    )
    if len(chosen) < config.n_negatives:
        raise ValueError(
            f"synthetic world: {jd.id} found only {len(chosen)} of n_negatives={config.n_negatives} talents "
            "that violate a rule; lower n_negatives or relocation_probability"
        )
    return tuple(chosen)


def _draw(
    rng: random.Random, pool: Sequence[Talent], wanted: int, taken: set[str], accept: Callable[[Talent], bool]
) -> list[Talent]:
    """Up to ``wanted`` distinct talents of ``pool`` not in ``taken`` that ``accept`` takes (adds them to ``taken``)."""
    chosen: list[Talent] = []
    draws = 0
    while len(chosen) < wanted and pool and draws < DRAWS_PER_NEGATIVE * wanted:
        talent = pool[rng.randrange(len(pool))]
        draws += 1
        if talent.id not in taken and accept(talent):
            chosen.append(talent)
            taken.add(talent.id)
    return chosen


def label_row(world: World, jd: JD) -> Row:
    """A posting's rule positives and sampled negatives, by id."""
    return Row(jd.id, world.positives[jd.id], tuple(t.id for t in sample_negatives(world, jd)))


def contrastive_row(world: World, jd: JD) -> ContrastiveRecord:
    """The reference row of a posting: its text, all rule positives, sampled negatives, and ids
    (texts from the world's objects: an in-memory world of :func:`build_world`)."""
    row = label_row(world, jd)
    return ContrastiveRecord(
        query=jd.text,
        positives=tuple(world.talent(i).text for i in row.positive_ids),
        negatives=tuple(world.talent(i).text for i in row.negative_ids),
        query_id=jd.id,
        positive_ids=row.positive_ids,
        negative_ids=row.negative_ids,
    )
