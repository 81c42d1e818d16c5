"""Sampling and rendering of talents (researcher profiles) in the reference markup.

A profile is two header lines (position, affiliation, location, years active) followed by
``<keyword>…<sep>…</keyword><title>…<sep>…</title><abstract>…<sep>…</abstract>``. The keyword
list names every topic and method of the talent; the publications use only some of them, each in
its own measure, which is the fine-grained fit the offline judge reads and the rules ignore.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from jobmatch.data.synthetic.entities import Institution, Publication, Talent
from jobmatch.data.synthetic.places import pick_institution
from jobmatch.data.synthetic.text import fill, pick
from jobmatch.data.synthetic.vocabulary import Subfield, Vocabulary

if TYPE_CHECKING:
    from jobmatch.data.synthetic.long_text import LongDraw

STAGE_WEIGHTS = (0.2, 0.25, 0.2, 0.18, 0.17)  # PhD, postdoc, assistant, associate, full
SECOND_SUBFIELD_PROBABILITY = 0.4
INTERDISCIPLINARY_PROBABILITY = 0.2  # of a second subfield, the chance it lies in another field
OUTSIDE_METHOD_PROBABILITY = 0.15  # a method borrowed from another field
SHOWN_PUBLICATIONS = (2, 3, 3, 3, 3)  # publications rendered per stage
# The reference profile markup (the encoder adds these as special tokens).
MARKUP_TOKENS: tuple[str, ...] = (
    "<keyword>",
    "</keyword>",
    "<title>",
    "</title>",
    "<abstract>",
    "</abstract>",
    "<sep>",
)


def make_talent(
    vocab: Vocabulary,
    rng: random.Random,
    talent_id: str,
    institutions: dict[str, tuple[Institution, ...]],
    *,
    long: LongDraw | None = None,
) -> Talent:
    """Sample one talent's attributes and render its profile.

    With ``long``, the profile gets more publications with longer abstracts (real length), drawn from
    ``long``'s own stream after the short profile's draws, so the talent's attributes stay the same.
    """
    stage = rng.choices(range(len(vocab.stages)), weights=STAGE_WEIGHTS)[0]
    info = vocab.stages[stage]
    years = rng.randint(*info.years)
    institution = pick_institution(vocab, rng, institutions)
    subfields = _subfields(vocab, rng)
    topics = _topics(vocab, rng, subfields)
    methods = _methods(vocab, rng, subfields)
    weights = [rng.uniform(0.2, 1.0) for _ in methods]
    publications = tuple(
        _publication(vocab, rng, subfields[0], topics, methods, weights) for _ in range(SHOWN_PUBLICATIONS[stage])
    )
    if long is not None:
        publications += tuple(
            _publication(vocab, long.rng, subfields[0], topics, methods, weights, extra=long.texts.abstract_sentences)
            for _ in range(long.texts.publications_to_add(stage, long.rng))
        )
    n_publications = max(len(publications), rng.randint(*info.publications))
    fields = tuple(dict.fromkeys(s.field for s in subfields))
    header = fill(
        pick(rng, vocab.templates["talent"]["headers"]),
        position=pick(rng, info.titles),
        department=pick(rng, vocab.field(fields[0]).departments),
        institution=institution.name,
        city=institution.city,
        country=institution.country,
        first_year=vocab.reference_year - years,
        n_publications=n_publications,
    )
    keywords = [s.name for s in subfields] + list(topics) + list(methods)
    rng.shuffle(keywords)
    text = (
        f"{header}\n<keyword>{'<sep>'.join(keywords)}</keyword>"
        f"<title>{'<sep>'.join(p.title for p in publications)}</title>"
        f"<abstract>{'<sep>'.join(p.abstract for p in publications)}</abstract>"
    )
    return Talent(
        id=talent_id,
        institution=institution,
        years_active=years,
        stage=stage,
        subfields=tuple(s.name for s in subfields),
        fields=fields,
        topics=topics,
        methods=methods,
        publications=publications,
        n_publications=n_publications,
        text=text,
    )


def _subfields(vocab: Vocabulary, rng: random.Random) -> tuple[Subfield, ...]:
    primary = pick(rng, vocab.subfields)
    if rng.random() >= SECOND_SUBFIELD_PROBABILITY:
        return (primary,)
    if rng.random() < INTERDISCIPLINARY_PROBABILITY:
        pool = [s for s in vocab.subfields if s.field != primary.field]
    else:
        pool = [s for s in vocab.field(primary.field).subfields if s.name != primary.name]
    return primary, pick(rng, pool)


def _topics(vocab: Vocabulary, rng: random.Random, subfields: tuple[Subfield, ...]) -> tuple[str, ...]:
    topics = rng.sample(subfields[0].topics, rng.randint(3, 4))
    if len(subfields) > 1:
        topics += rng.sample(subfields[1].topics, rng.randint(1, 2))
    elif rng.random() < 0.25:
        siblings = [s for s in vocab.field(subfields[0].field).subfields if s.name != subfields[0].name]
        topics.append(pick(rng, pick(rng, siblings).topics))
    return tuple(topics)


def _methods(vocab: Vocabulary, rng: random.Random, subfields: tuple[Subfield, ...]) -> tuple[str, ...]:
    field = vocab.field(subfields[0].field)
    methods = rng.sample(subfields[0].methods, rng.randint(2, 3))
    if len(subfields) > 1:
        methods.append(pick(rng, subfields[1].methods))
    methods += rng.sample(field.methods, rng.randint(1, 2))
    if rng.random() < 0.5:
        methods.append(pick(rng, vocab.generic_methods))
    if rng.random() < OUTSIDE_METHOD_PROBABILITY:
        other = pick(rng, [s for s in vocab.subfields if s.field != field.name])
        methods.append(pick(rng, other.methods))
    return tuple(dict.fromkeys(methods))


def _publication(
    vocab: Vocabulary,
    rng: random.Random,
    subfield: Subfield,
    topics: tuple[str, ...],
    methods: tuple[str, ...],
    weights: list[float],
    extra: Callable[[random.Random], dict[str, list[str]]] | None = None,
) -> Publication:
    """One publication: a title and an abstract using one or two of the talent's methods.

    ``extra`` adds sentences without research terms around the abstract's parts (a long abstract),
    drawn after the parts: ``{"background", "design", "findings", "implications"}`` lists.
    """
    t = vocab.templates["talent"]
    topic, topic2 = rng.sample(topics, 2)
    used = _weighted_sample(rng, methods, weights, 1 if rng.random() < 0.55 else 2)
    method, method2 = used[0], used[-1]
    title_template = pick(rng, t["titles_with_method"] if rng.random() < 0.7 else t["titles_without_method"])
    if "{method2}" in title_template and len(used) == 1:
        title_template = t["titles_with_method"][0]
    values = {
        "topic": topic,
        "topic2": topic2,
        "method": method,
        "method2": method2,
        "subfield_lc": subfield.name.lower(),
        "n": rng.randint(3, 40),
        "association": pick(rng, t["association"]),
        "comparison": pick(rng, t["comparison"]),
    }
    values["data"] = pick(rng, t["data"]).format(**values)
    values["scale"] = pick(rng, t["scale"]).format(**values)
    a = t["abstract"]
    opening = [pick(rng, a["context"]), pick(rng, a["aim"])]
    if rng.random() < 0.5:  # one opening sentence or two: abstracts of varied length
        opening.pop(rng.randrange(2))
    parts = [
        *opening,
        pick(rng, a["method_one"] if len(used) == 1 else a["method_two"]),
        pick(rng, a["result"]),
        pick(rng, a["closing"]) if rng.random() < 0.4 else "",
    ]
    if extra is not None:
        more = extra(rng)
        parts = [*opening, *more["background"], parts[-3], *more["design"], parts[-2], *more["findings"],
                 *more["implications"], parts[-1]]
    abstract = " ".join(fill(p, **values) for p in parts if p)
    return Publication(
        title=fill(title_template, **values), abstract=abstract, topics=(topic, topic2), methods=tuple(used)
    )


def _weighted_sample(rng: random.Random, items: tuple[str, ...], weights: list[float], k: int) -> list[str]:
    """``k`` distinct items, each draw proportional to the remaining weights."""
    pool, w = list(items), list(weights)
    chosen: list[str] = []
    for _ in range(min(k, len(pool))):
        i = rng.choices(range(len(pool)), weights=w)[0]
        chosen.append(pool.pop(i))
        w.pop(i)
    return chosen
