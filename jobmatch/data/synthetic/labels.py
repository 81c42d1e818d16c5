"""Splits and contrastive rows: each posting's rule positives and its sampled negatives.

Negatives violate at least one rule. A share ``hard_negative_fraction`` comes from talents in the
posting's research area that fail geography or seniority (the pairs the offline judge weighs only
weakly, so that stage 1 learns every rule and the judge disagrees with the rules on some pairs);
the rest are uniformly random non-matching talents.
"""

from __future__ import annotations

from jobmatch.data.records import ContrastiveRecord
from jobmatch.data.synthetic.entities import JD, Talent
from jobmatch.data.synthetic.rules import area_ok
from jobmatch.data.synthetic.seeding import rng_for
from jobmatch.data.synthetic.world import World

SPLITS: tuple[str, ...] = ("train", "val", "test")
OOD_SPLIT = "test_ood"  # postings in SyntheticConfig.ood_subfields: never in the three splits above


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


def contrastive_row(world: World, jd: JD) -> ContrastiveRecord:
    """The reference row of a posting: its text, all rule positives, sampled negatives, and ids."""
    positives = [world.talent(tid) for tid in world.positives[jd.id]]
    negatives = sample_negatives(world, jd)
    return ContrastiveRecord(
        query=jd.text,
        positives=tuple(t.text for t in positives),
        negatives=tuple(t.text for t in negatives),
        query_id=jd.id,
        positive_ids=tuple(t.id for t in positives),
        negative_ids=tuple(t.id for t in negatives),
    )
