"""Real-length texts: token lengths like the authors' sample, the short market's labels, and added
text that carries no research terms (so the rules and the judge read it as the short market)."""

from __future__ import annotations

import dataclasses
import string

import pytest

from jobmatch.data.synthetic import SyntheticConfig, World, build_world, sample_negatives
from jobmatch.data.synthetic.long_text import long_texts
from jobmatch.data.synthetic.measure import load_counting_tokenizer
from jobmatch.data.synthetic.reading import default_reader

SHORT = SyntheticConfig(n_talents=200, n_jds=30, relocation_probability=0.5, judge_pairs=50)
REAL = dataclasses.replace(SHORT, profile_length="real")
# Token quantiles (MiniLM tokenizer, markup as special tokens) of the authors' sample's contrastive rows
# (124 talents, 10 JDs), read from ../shared/data/rankpo-sample: facts, not data. A 200-talent market
# meets each talent quantile within 25% and the JD median within 25% of the sample's middle (~750).
TALENT_QUANTILES = {0.1: 681, 0.25: 1657, 0.5: 3539, 0.75: 5870, 0.9: 6780}
TALENT_TOLERANCE = 0.25
JD_MEDIAN, JD_RANGE = 750, (419, 1021)


@pytest.fixture(scope="module")
def worlds() -> tuple[World, World]:
    return build_world(SHORT), build_world(REAL)


def _quantile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_real_length_texts_follow_the_sample_token_lengths(worlds: tuple[World, World]) -> None:
    _, real = worlds
    tokenizer = load_counting_tokenizer(REAL.tokenizer)
    talents = [len(ids) for ids in tokenizer([t.text for t in real.talents])["input_ids"]]
    for q, target in TALENT_QUANTILES.items():
        assert abs(_quantile(talents, q) - target) <= TALENT_TOLERANCE * target, (q, _quantile(talents, q))
    assert max(talents) < 12_000
    jds = [len(ids) for ids in tokenizer([j.text for j in real.jds])["input_ids"]]
    assert abs(_quantile(jds, 0.5) - JD_MEDIAN) <= 0.25 * JD_MEDIAN
    assert JD_RANGE[0] * 0.9 <= min(jds) and max(jds) <= JD_RANGE[1] * 1.15


def test_real_length_market_has_the_short_market_labels(worlds: tuple[World, World]) -> None:
    short, real = worlds
    assert real.positives == short.positives
    assert [j.id for j in real.jds] == [j.id for j in short.jds]
    for jd_short, jd_real in zip(short.jds[:10], real.jds[:10], strict=True):
        assert [t.id for t in sample_negatives(short, jd_short)] == [t.id for t in sample_negatives(real, jd_real)]
        assert jd_real.text.startswith(jd_short.text.split("\n")[0]) and len(jd_real.text) > 2 * len(jd_short.text)
    for a, b in zip(short.talents[:20], real.talents[:20], strict=True):
        assert (a.stage, a.institution, a.topics, a.methods) == (b.stage, b.institution, b.topics, b.methods)
        assert b.publications[: len(a.publications)] == a.publications and len(b.text) > len(a.text)


def test_added_sentences_carry_no_research_terms_places_or_judge_cues() -> None:
    reader = default_reader()
    templates = long_texts().templates
    sentences = [s for part in templates["talent"]["abstract"].values() for s in part]
    sentences += [s for spec in templates["posting"].values() for s in spec["sentences"]]
    assert len(sentences) > 80
    for sentence in sentences:
        names = {name for _, name, _, _ in string.Formatter().parse(sentence) if name}
        text = sentence.format(**{name: "the work" for name in names})
        for finder in (reader.methods, reader.topics, reader.subfields, reader.places, reader.stages):
            assert not finder.find(text), (sentence, finder.find(text))
        assert not reader.essential.search(text) and not reader.desirable.search(text), sentence
