"""The synthetic market at scale: sampled labels keep the rules, work per posting stays bounded as the
corpus grows, rows can refer to corpus ids, and the scale presets are declared with their options."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from jobmatch.data.synthetic import (
    AREA,
    PRESETS,
    SyntheticConfig,
    World,
    build_world,
    failed_rules,
    generate_dataset,
    is_match,
    preset,
    read_manifest,
    sample_negatives,
)
from jobmatch.data.synthetic.entities import Talent
from jobmatch.data.synthetic.labels import DRAWS_PER_NEGATIVE, label_row
from jobmatch.data.synthetic.places import build_institutions
from jobmatch.data.synthetic.seeding import rng_for
from jobmatch.data.synthetic.vocabulary import load_vocabulary
from jobmatch.data.synthetic.world import DRAWS_PER_POSITIVE, ENUMERATE_LIMIT, draw_postings, draw_talents

SAMPLED = SyntheticConfig(n_talents=1500, n_jds=60, relocation_probability=0.3, judge_pairs=50, labels="sampled")


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(SAMPLED)


def test_sampled_positives_are_rule_matches_and_all_of_them_when_few(world: World) -> None:
    everyone = world.talents
    complete = 0
    for jd in world.jds + world.ood_jds:
        positives = world.positives[jd.id]
        assert SAMPLED.min_positives <= len(positives) <= SAMPLED.max_positives
        assert all(is_match(jd, world.talent(i)) for i in positives)
        matches = {t.id for t in everyone if is_match(jd, t)}
        assert set(positives) <= matches
        if len(matches) <= len(positives):  # nothing left unlabelled: exactly the matches
            complete += 1
            assert set(positives) == matches
        if len(world.index.candidates(jd)) <= ENUMERATE_LIMIT:  # counted in full: the count is exact
            assert world.rule_matches[jd.id] == len(matches)
    assert 0 < complete < len(world.jds)  # both kinds occur at this density


def test_sampled_negatives_violate_a_rule_and_mix_hard_and_random(world: World) -> None:
    hard = []
    for jd in world.jds:
        negatives = sample_negatives(world, jd)
        assert len({t.id for t in negatives}) == SAMPLED.n_negatives
        assert not {t.id for t in negatives} & set(world.positives[jd.id])
        for talent in negatives:
            failed = failed_rules(jd, talent)
            assert failed  # never an unlabelled rule match
            hard.append(AREA not in failed)
    assert abs(sum(hard) / len(hard) - SAMPLED.hard_negative_fraction) < 0.05


def _denser(talents: list[Talent], times: int) -> list[Talent]:
    """The same talents ``times`` over under new ids: a corpus ``times`` as dense, rendered once."""
    return [dataclasses.replace(t, id=f"{t.id}-{k}") for k in range(times) for t in talents]


def _work(config: SyntheticConfig, talents: list[Talent]) -> tuple[float, float]:
    """Talents examined per candidate posting, and per labelled row for the negatives."""
    vocab = load_vocabulary()
    world = draw_postings(config, vocab, build_institutions(vocab, rng_for(config.seed, "institutions")), talents)
    per_candidate = world.talents_examined / world.candidates_drawn
    before = world.index.examined
    for jd in world.jds:
        label_row(world, jd)
    return per_candidate, (world.index.examined - before) / len(world.jds)


def test_work_per_posting_does_not_grow_with_the_corpus() -> None:
    """Talent checks per candidate posting and per row are bounded by constants of the generator, and
    level off as the corpus grows (8x -> 32x the talents); complete labels' negatives scan the field."""
    config = dataclasses.replace(SAMPLED, n_talents=1000, n_jds=40)
    vocab = load_vocabulary()
    base = [
        dataclasses.replace(t, text="", publications=())
        for t in draw_talents(config, vocab, build_institutions(vocab, rng_for(0, "institutions")))
    ]
    works = [_work(config, _denser(base, times)) for times in (1, 8, 32)]
    for per_candidate, per_row in works:
        assert per_candidate <= max(ENUMERATE_LIMIT, DRAWS_PER_POSITIVE * config.max_positives)
        assert per_row <= DRAWS_PER_NEGATIVE * config.n_negatives
    (_, row_1x), (candidate_8x, _), (candidate_32x, row_32x) = works
    assert candidate_32x < 1.5 * candidate_8x  # 4x the talents: not 4x the work
    assert row_32x < 1.5 * row_1x  # negatives: the same work at any size
    complete = dataclasses.replace(config, labels="complete", max_positives=200)
    assert _work(complete, _denser(base, 8))[1] > 4 * _work(complete, base)[1]


def test_rows_by_id_resolve_in_the_corpus_and_copy_no_profile(tmp_path: Path) -> None:
    config = dataclasses.replace(SAMPLED, n_talents=400, n_jds=30, inline_texts=False, judge_pairs=20)
    out = generate_dataset(config, tmp_path / "ids")
    corpus = {r["id"]: r["text"] for r in map(json.loads, (out / "corpus.jsonl").read_text().splitlines())}
    world = build_world(config)
    for split in ("train", "val", "test", "test_ood"):
        for line in (out / f"{split}.jsonl").read_text().splitlines():
            row = json.loads(line)
            assert list(row) == ["query_id", "query", "positive_ids", "negative_ids"]
            assert set(row["positive_ids"]) | set(row["negative_ids"]) <= set(corpus)
            assert row["query"] == world.jd(row["query_id"]).text
            assert "<keyword>" not in line  # no profile text copied
            jd = world.jd(row["query_id"])
            assert all(is_match(jd, world.talent(i)) for i in row["positive_ids"])
            assert all(failed_rules(jd, world.talent(i)) for i in row["negative_ids"])
    manifest = read_manifest(out)
    assert manifest["config"]["inline_texts"] is False and manifest["figures"]["labels"]["mode"] == "sampled"
    card = (out / "dataset_card.md").read_text()
    assert "refer to `corpus.jsonl` by id" in card and "unlabelled" in card


def test_later_options_validate_and_stay_out_of_old_manifests() -> None:
    for option, value in (("labels", "some"), ("profile_length", "long"), ("inline_texts", "no")):
        with pytest.raises(ValueError, match=rf"^{option}="):
            dataclasses.replace(SAMPLED, **{option: value})
    assert "labels" not in PRESETS["synthetic_small"].to_dict() and "inline_texts" not in PRESETS["synthetic"].to_dict()
    assert SyntheticConfig.from_dict(SAMPLED.to_dict()) == SAMPLED and SAMPLED.to_dict()["labels"] == "sampled"


@pytest.mark.parametrize("size", [10_000, 100_000, 1_000_000])
def test_scale_presets(size: int) -> None:
    name = {10_000: "10k", 100_000: "100k", 1_000_000: "1m"}[size]
    real, short = preset(f"synthetic_{name}"), preset(f"synthetic_{name}_short")
    assert real.n_talents == short.n_talents == size and real.n_jds == short.n_jds == size * 3 // 10
    assert (real.profile_length, short.profile_length) == ("real", "short")
    assert real.labels == short.labels == "sampled" and not real.inline_texts and not short.inline_texts
    for stem in (f"synthetic_{name}", f"synthetic_{name}_short"):
        assert f"preset: {stem}" in (Path(__file__).parents[1] / "conf" / "data" / f"{stem}.yaml").read_text()
