"""Sampling and rendering of academic postings (JDs, the queries).

A posting seeks one or two adjacent career stages in one subfield, names research topics, required
and preferred methods, a teaching/research emphasis, contract terms and whether candidates from
the whole region may relocate; it is rendered as a title, header lines and paragraphs chosen from
templates, with optional boilerplate so that lengths vary.
"""

from __future__ import annotations

import dataclasses
import random
from typing import TYPE_CHECKING

from jobmatch.data.synthetic.entities import JD, Institution
from jobmatch.data.synthetic.places import pick_institution
from jobmatch.data.synthetic.text import and_list, fill, pick
from jobmatch.data.synthetic.vocabulary import Subfield, Vocabulary

if TYPE_CHECKING:
    from jobmatch.data.synthetic.long_text import LongDraw

LEVEL_WEIGHTS = (0.15, 0.35, 0.25, 0.12, 0.13)  # PhD, postdoc, assistant, associate, full
EMPHASES = ("research", "balanced", "teaching")
EMPHASIS_WEIGHTS = (0.4, 0.4, 0.2)
METHOD_POOL_WEIGHTS = {"subfield": 3.0, "field": 1.5, "generic": 0.25}


def make_posting(
    vocab: Vocabulary,
    rng: random.Random,
    jd_id: str,
    institutions: dict[str, tuple[Institution, ...]],
    *,
    relocation_probability: float,
    two_level_probability: float,
    long: LongDraw | None = None,
) -> JD:
    """Sample one posting's attributes and render its text.

    With ``long``, the text gets more paragraphs without research terms (real length), drawn from
    ``long``'s own stream after the short text's draws, so the posting's attributes stay the same.
    """
    subfield = pick(rng, vocab.subfields)
    institution = pick_institution(vocab, rng, institutions)
    levels = _levels(rng, two_level_probability)
    topics = tuple(rng.sample(subfield.topics, rng.randint(2, 3)))
    required, preferred = _methods(vocab, rng, subfield)
    emphasis = "studentship" if levels[0] == 0 else rng.choices(EMPHASES, weights=EMPHASIS_WEIGHTS)[0]
    allows_relocation = rng.random() < relocation_probability
    years, months = rng.randint(2, 5), rng.choice((12, 18, 24, 36))
    contract = pick(rng, vocab.templates["posting"]["contract"][vocab.stages[levels[0]].key])
    contract = contract.format(years=years, months=months)
    jd = JD(
        id=jd_id,
        institution=institution,
        levels=levels,
        field=subfield.field,
        subfield=subfield.name,
        topics=topics,
        required_methods=required,
        preferred_methods=preferred,
        emphasis=emphasis,
        contract=contract,
        allows_relocation=allows_relocation,
        text="",
    )
    return _with_text(vocab, rng, jd, years=years, long=long)


def _levels(rng: random.Random, two_level_probability: float) -> tuple[int, ...]:
    level = rng.choices(range(len(LEVEL_WEIGHTS)), weights=LEVEL_WEIGHTS)[0]
    if level == 0 or rng.random() >= two_level_probability:
        return (level,)
    other = level + 1 if level + 1 < len(LEVEL_WEIGHTS) else level - 1
    return tuple(sorted((level, other)))


def _methods(vocab: Vocabulary, rng: random.Random, subfield: Subfield) -> tuple[tuple[str, ...], tuple[str, ...]]:
    pool = (
        [(m, METHOD_POOL_WEIGHTS["subfield"]) for m in subfield.methods]
        + [(m, METHOD_POOL_WEIGHTS["field"]) for m in vocab.field(subfield.field).methods]
        + [(m, METHOD_POOL_WEIGHTS["generic"]) for m in vocab.generic_methods]
    )
    chosen: list[str] = []
    for _ in range(rng.randint(2, 3) + rng.randint(1, 2)):
        i = rng.choices(range(len(pool)), weights=[w for _, w in pool])[0]
        chosen.append(pool.pop(i)[0])
    n_required = rng.randint(2, min(3, len(chosen) - 1))
    return tuple(chosen[:n_required]), tuple(chosen[n_required:])


def _salary(vocab: Vocabulary, rng: random.Random, jd: JD) -> str:
    country = vocab.country(jd.country)
    low = vocab.stages[jd.levels[0]].salary_k * 1000 * country.salary_factor * rng.uniform(0.92, 1.08)
    high = vocab.stages[jd.levels[-1]].salary_k * 1000 * country.salary_factor * rng.uniform(1.1, 1.25)
    return f"{country.currency} {_round3(low):,}–{_round3(high):,} per year"


def _round3(value: float) -> int:
    """Round to three significant digits."""
    digits = len(str(int(value)))
    return int(round(value, 3 - digits))


def _with_text(vocab: Vocabulary, rng: random.Random, jd: JD, *, years: int, long: LongDraw | None = None) -> JD:
    t = vocab.templates["posting"]
    stage_infos = [vocab.stages[level] for level in jd.levels]
    titles = [pick(rng, s.posting_titles) for s in stage_infos]
    topics = [*jd.topics, ""][:3]  # topic3 is only used by the role_extra templates
    values = {
        "level_title": titles[0],
        "level_title2": titles[-1],
        "level_title_lc": titles[0].lower(),
        "level_label": stage_infos[0].label,
        "subfield": jd.subfield,
        "subfield_lc": jd.subfield.lower(),
        "field_lc": jd.field.lower(),
        "department": pick(rng, vocab.field(jd.field).departments),
        "institution": jd.institution.name,
        "city": jd.institution.city,
        "country": jd.country,
        "region": jd.region,
        "topic": topics[0],
        "topic2": topics[1],
        "topic3": topics[2],
        "required": and_list(jd.required_methods),
        "preferred": and_list(jd.preferred_methods),
        "qualification": t["qualification"]["phd" if jd.levels[0] == 0 else "other"],
        "contract": jd.contract,
        "hours": pick(rng, t["hours"]),
        "salary": _salary(vocab, rng, jd),
        "closing": f"{rng.randint(1, 28)} {pick(rng, t['months'])} {vocab.reference_year}",
        "reference": f"{pick(rng, ('AC', 'RS', 'HR', 'JP'))}{rng.randint(1000, 9999)}",
        "years": years,
    }
    title = fill(pick(rng, t["title"]["two_levels" if len(jd.levels) > 1 else "one_level"]), **values)
    header = [t["header_lines"][0]] + [line for line in t["header_lines"][1:] if rng.random() < 0.6]
    relocation = t["relocation"]["allowed" if jd.allows_relocation else "local"]
    paragraphs = [
        [pick(rng, t["intro"]), pick(rng, t["role"]), *([pick(rng, t["role_extra"])] if len(jd.topics) > 2 else [])],
        [pick(rng, t["essential"]), pick(rng, t["desirable"])],
        [pick(rng, t["emphasis"][jd.emphasis]), pick(rng, relocation)],
        rng.sample(t["boilerplate"], rng.randint(0, 3)),
        rng.sample(t["apply"], rng.randint(1, 2)),
    ]
    if long is not None:
        more = long.texts.posting_paragraphs(long.rng)
        about, group, duties, person, offer, process = (more[k] for k in long.texts.POSTING_PARAGRAPHS)
        paragraphs = [paragraphs[0], group, duties, paragraphs[1], person, paragraphs[2], offer, about,
                      paragraphs[3], [*paragraphs[4], *process]]
    body = [" ".join(fill(s, **values) for s in p) for p in paragraphs if p]
    text = "\n".join([title, *(fill(line, **values) for line in header), *body])
    return dataclasses.replace(jd, text=text)
