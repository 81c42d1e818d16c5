"""Talent identities (name + pronouns): drawn on their own stream, ignored by the rules and the judge."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

from jobmatch.data.synthetic import SyntheticConfig, generate_dataset
from jobmatch.data.synthetic.judge import OfflineJudge
from jobmatch.data.synthetic.labels import contrastive_row
from jobmatch.data.synthetic.names import (
    NAMES,
    ORIGINS,
    counterfactual,
    draw_identity,
    strip_identity,
    with_identity,
)
from jobmatch.data.synthetic.reading import default_reader
from jobmatch.data.synthetic.world import build_world
from jobmatch.privacy import redact

TINY = SyntheticConfig(n_talents=300, n_jds=40, relocation_probability=0.5, judge_pairs=100)


@pytest.fixture(scope="module")
def worlds():
    return build_world(TINY), build_world(dataclasses.replace(TINY, talent_identities=False))


def test_identities_change_only_the_first_line(worlds) -> None:
    named, plain = worlds
    assert [j.id for j in named.jds] == [j.id for j in plain.jds]
    assert named.positives == plain.positives  # the rules read attributes only
    for a, b in zip(named.talents, plain.talents, strict=True):
        assert a.identity is not None and b.identity is None
        assert a.text == f"{a.identity.line()}\n{b.text}" and strip_identity(a.text) == b.text
    rows = [contrastive_row(named, jd) for jd in named.jds[:10]]
    assert all(r.positives[0].startswith("Name: ") for r in rows)


def test_the_judge_ignores_identities(worlds) -> None:
    named, plain = worlds
    judge = OfflineJudge(seed=0, noise=0.3)
    rng = random.Random(0)
    for jd in named.jds[:20]:
        i, k = rng.sample(range(len(named.talents)), 2)
        with_names = judge.judge(jd.text, named.talents[i].text, named.talents[k].text)
        without = judge.judge(jd.text, plain.talents[i].text, plain.talents[k].text)
        assert with_names == without


def test_swapping_names_between_two_profiles_never_flips_the_offline_judge(worlds) -> None:
    named, _ = worlds
    judge = OfflineJudge(seed=1, noise=0.5)
    for jd, (a, b) in zip(named.jds[:20], zip(named.talents[::2], named.talents[1::2], strict=False), strict=False):
        swapped_a, swapped_b = with_identity(a.text, b.identity), with_identity(b.text, a.identity)
        assert judge.judge(jd.text, a.text, b.text) == judge.judge(jd.text, swapped_a, swapped_b)


def test_redaction_keeps_the_offline_judges_verdicts(worlds) -> None:
    named, _ = worlds
    judge = OfflineJudge(seed=0, noise=0.3)
    for jd, (a, b) in zip(named.jds[:20], zip(named.talents[::2], named.talents[1::2], strict=False), strict=False):
        ra, rb = redact(a.text, [a.identity.name]), redact(b.text, [b.identity.name])
        assert a.identity.last not in ra.text and ra.counts.get("name", 0) >= 1
        assert judge.judge(jd.text, ra.text, rb.text).preferred == judge.judge(jd.text, a.text, b.text).preferred


def test_no_name_is_a_place_or_research_term() -> None:
    reader = default_reader()
    for female, male, surnames in NAMES.values():
        for name in (*female, *male, *surnames):
            seen = reader.talent(f"{name} {name}")
            assert not seen.method_counts and not seen.topics and not seen.subfields, name
            assert seen.country is None and seen.region is None and seen.stage is None, name


def test_counterfactuals_move_one_attribute() -> None:
    rng = random.Random(3)
    for _ in range(50):
        identity = draw_identity(rng)
        by_gender = counterfactual(identity, "gender", rng)
        assert by_gender.gender != identity.gender
        assert (by_gender.origin, by_gender.last) == (identity.origin, identity.last)
        by_origin = counterfactual(identity, "origin", rng)
        assert by_origin.origin != identity.origin and by_origin.gender == identity.gender
        assert by_origin.origin in ORIGINS


def test_corpus_and_card_record_the_groups(tmp_path: Path) -> None:
    out = generate_dataset(TINY, tmp_path / "data")
    rows = [json.loads(line) for line in (out / "corpus.jsonl").read_text().splitlines()]
    assert all({"name", "gender", "origin"} <= set(r) for r in rows)
    assert all(r["text"].startswith(f"Name: {r['name']} (") for r in rows)
    card = (out / "dataset_card.md").read_text()
    assert "## Talent identities" in card
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum(manifest["figures"]["identities"]["gender"].values()) == TINY.n_talents
