"""The synthetic world: vocabulary, config validation, rules, positives, negatives and determinism."""

from __future__ import annotations

import dataclasses

import pytest

from jobmatch.data.synthetic import (
    AREA,
    GEOGRAPHY,
    SENIORITY,
    SMALL,
    SyntheticConfig,
    World,
    build_world,
    failed_rules,
    is_match,
    load_vocabulary,
    preset,
    sample_negatives,
    split_jds,
)
from jobmatch.data.synthetic.entities import Institution

TINY = SyntheticConfig(n_talents=300, n_jds=40, relocation_probability=0.5, judge_pairs=100)


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(TINY)


def test_vocabulary_is_unique_and_sizeable() -> None:
    vocab = load_vocabulary()
    terms = [t.lower() for t in (*vocab.topics, *vocab.methods)]
    assert len(terms) == len(set(terms)) >= 300
    assert len(vocab.subfields) >= 30 and len(vocab.countries) >= 15
    assert [s.key for s in vocab.stages] == ["phd", "postdoc", "assistant", "associate", "full"]


def test_default_tokenizer_matches_the_model_package() -> None:
    from jobmatch.data.synthetic.config import DEFAULT_TOKENIZER
    from jobmatch.model.sources import DEFAULT_TOKENIZER as MODEL_DEFAULT

    assert DEFAULT_TOKENIZER == MODEL_DEFAULT


@pytest.mark.parametrize(
    ("overrides", "option"),
    [
        ({"n_jds": 0}, "n_jds"),
        ({"n_talents": -5}, "n_talents"),
        ({"train_fraction": 0.7}, "train_fraction"),
        ({"val_fraction": 0.0, "train_fraction": 0.9}, "val_fraction"),
        ({"n_negatives": 995}, "n_negatives"),
        ({"min_positives": 5, "max_positives": 3}, "min_positives"),
        ({"relocation_probability": 1.5}, "relocation_probability"),
        ({"n_jds": 4}, "n_jds"),  # a split would be empty
        ({"judge_noise": -0.1}, "judge_noise"),
    ],
)
def test_invalid_configs_fail_naming_the_option(overrides: dict[str, object], option: str) -> None:
    with pytest.raises(ValueError, match=rf"^{option}="):  # the field, named as the argument it is
        dataclasses.replace(SMALL, **overrides)


def test_presets_and_dict_round_trip() -> None:
    assert preset("synthetic_small") == SMALL
    assert preset("synthetic", seed=3).seed == 3
    assert SyntheticConfig.from_dict(SMALL.to_dict()) == SMALL
    with pytest.raises(ValueError, match="unknown synthetic preset"):
        preset("nope")
    with pytest.raises(ValueError, match="unknown option"):
        SyntheticConfig.from_dict({"n_talent": 3})
    assert SMALL.fingerprint("v") != dataclasses.replace(SMALL, seed=1).fingerprint("v")


def test_every_jd_has_its_complete_rule_positives(world: World) -> None:
    assert len(world.jds) == TINY.n_jds and len(world.talents) == TINY.n_talents
    for jd in world.jds:
        positives = world.positives[jd.id]
        assert TINY.min_positives <= len(positives) <= TINY.max_positives
        # exactly the matching talents: none missed, none extra
        assert set(positives) == {t.id for t in world.talents if is_match(jd, t)}
        assert all(failed_rules(jd, world.talent(tid)) == () for tid in positives)


def test_negatives_violate_a_rule_and_mix_hard_and_random(world: World) -> None:
    kinds: list[bool] = []
    for jd in world.jds:
        negatives = sample_negatives(world, jd)
        assert len(negatives) == TINY.n_negatives == len({t.id for t in negatives})
        for talent in negatives:
            failed = failed_rules(jd, talent)
            assert failed and not is_match(jd, talent)
            kinds.append(AREA not in failed)
    assert 0.2 < sum(kinds) / len(kinds) < 0.9  # both kinds present


def test_splits_are_disjoint_and_sized(world: World) -> None:
    splits = split_jds(world)
    ids = [jd.id for split in splits.values() for jd in split]
    assert len(ids) == len(set(ids)) == TINY.n_jds
    assert tuple(len(s) for s in splits.values()) == TINY.split_sizes()


def test_rules_on_edited_objects(world: World) -> None:
    jd = world.jds[0]
    talent = world.talent(world.positives[jd.id][0])
    vocab = load_vocabulary()
    far = next(c for c in vocab.countries if c.region != jd.region)
    near = next((c for c in vocab.countries if c.region == jd.region and c.name != jd.country), None)
    moved = dataclasses.replace(
        talent, institution=Institution("Elsewhere University", far.cities[0], far.name, far.region)
    )
    assert failed_rules(jd, moved) == (GEOGRAPHY,)
    if near is not None:
        nearby = dataclasses.replace(
            talent, institution=Institution("Nearby University", near.cities[0], near.name, near.region)
        )
        assert is_match(dataclasses.replace(jd, allows_relocation=True), nearby)
        assert failed_rules(dataclasses.replace(jd, allows_relocation=False), nearby) == (GEOGRAPHY,)
    stage = 4 if max(jd.levels) <= 2 else 0
    assert SENIORITY in failed_rules(jd, dataclasses.replace(talent, stage=stage))
    other = next(s for s in vocab.subfields if s.field != jd.field)
    switched = dataclasses.replace(talent, subfields=(other.name,), fields=(other.field,))
    assert AREA in failed_rules(jd, switched)


def test_world_is_deterministic_and_seeded() -> None:
    small = dataclasses.replace(TINY, n_jds=10)
    a, b = build_world(small), build_world(small)
    assert [t.text for t in a.talents] == [t.text for t in b.talents]
    assert [j.text for j in a.jds] == [j.text for j in b.jds] and a.positives == b.positives
    c = build_world(dataclasses.replace(small, seed=1))
    assert [t.text for t in a.talents] != [t.text for t in c.talents]


def test_impossible_world_fails_clearly() -> None:
    config = SyntheticConfig(n_talents=12, n_jds=20, n_negatives=1, min_positives=3, relocation_probability=0.0)
    with pytest.raises(ValueError, match="raise n_talents"):
        build_world(config)
