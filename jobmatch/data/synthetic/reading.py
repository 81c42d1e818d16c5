"""How the offline judge reads texts: research terms, places and career stages found by phrase.

The judge sees only texts, as an LLM judge would. It finds the vocabulary's phrases in them
(case-insensitively, longest phrase first, whole words only): which methods a profile's titles and
abstracts use and how often, which topics and subfields it names, where it is based and its career
stage; which methods a posting requires (sentences with an "essential" cue) or prefers ("desirable"
cue), its topics, location and the levels in its title.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jobmatch.data.synthetic.vocabulary import Vocabulary, load_vocabulary

REQUIRED_WEIGHT = 1.0
PREFERRED_WEIGHT = 0.5
MENTIONED_WEIGHT = 0.25  # a method named elsewhere in a posting
CACHE_SIZE = 16384


@dataclass(frozen=True)
class TalentReading:
    """What the judge gathers from a profile."""

    method_counts: Mapping[str, int]
    topics: frozenset[str]
    subfields: frozenset[str]
    country: str | None
    region: str | None
    stage: int | None


@dataclass(frozen=True)
class PostingReading:
    """What the judge gathers from a posting; ``methods`` maps each method to its importance."""

    methods: Mapping[str, float]
    topics: frozenset[str]
    subfield: str | None
    country: str | None
    region: str | None
    levels: tuple[int, ...]


class _Finder:
    """One regular expression over a set of phrases, returning their canonical spellings."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.canonical = {p.lower(): p for p in phrases}
        self.pattern = re.compile(rf"(?<![\w-]){_trie_pattern(self.canonical)}(?![\w-])", re.IGNORECASE)

    def find(self, text: str) -> list[str]:
        return [self.canonical[m.group(0).lower()] for m in self.pattern.finditer(text)]


class Reader:
    """Finders built once from a vocabulary; ``talent`` and ``posting`` read one text each."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.methods = _Finder(vocab.methods)
        self.topics = _Finder(vocab.topics)
        self.subfields = _Finder(s.name for s in vocab.subfields)
        places = {c.name: c.name for c in vocab.countries} | {
            city: c.name for c in vocab.countries for city in c.cities
        }
        self.place_country = {k.lower(): v for k, v in places.items()}
        self.places = _Finder(places)
        self.region_of = {c.name: c.region for c in vocab.countries}
        stage_of = {title: i for i, s in enumerate(vocab.stages) for title in (*s.titles, *s.posting_titles)}
        self.stage_of = {k.lower(): v for k, v in stage_of.items()}
        self.stages = _Finder(stage_of)
        judge = vocab.templates["judge"]
        self.essential = _cue_pattern(judge["essential_cues"])
        self.desirable = _cue_pattern(judge["desirable_cues"])
        # Judges see the same texts many times (a posting against many pairs): read each once.
        self.talent = lru_cache(maxsize=CACHE_SIZE)(self._read_talent)  # type: ignore[method-assign]
        self.posting = lru_cache(maxsize=CACHE_SIZE)(self._read_posting)  # type: ignore[method-assign]

    def _country(self, text: str) -> str | None:
        found = self.places.find(text)
        return self.place_country[found[0].lower()] if found else None

    def talent(self, text: str) -> TalentReading:
        """Read a profile (cached); see :meth:`_read_talent`."""
        return self._read_talent(text)

    def _read_talent(self, text: str) -> TalentReading:
        """Read a profile: header (place, stage), keyword list, titles and abstracts."""
        header, _, markup = text.partition("<keyword>")
        keywords = _section(markup, "keyword", leading=True)
        body = _section(markup, "title") + "\n" + _section(markup, "abstract")
        stages = self.stages.find(header)
        country = self._country(header)
        return TalentReading(
            method_counts=Counter(self.methods.find(body)),
            topics=frozenset(self.topics.find(keywords + "\n" + body)),
            # whole keyword items only: "plankton ecology" is a topic, not the subfield Ecology
            subfields=frozenset(
                self.subfields.canonical[k.strip().lower()]
                for k in keywords.split("\n")
                if k.strip().lower() in self.subfields.canonical
            ),
            country=country,
            region=self.region_of.get(country) if country else None,
            stage=self.stage_of[stages[0].lower()] if stages else None,
        )

    def posting(self, text: str) -> PostingReading:
        """Read a posting (cached); see :meth:`_read_posting`."""
        return self._read_posting(text)

    def _read_posting(self, text: str) -> PostingReading:
        """Read a posting: title line (levels, subfield), place, and methods weighted by their cue."""
        title, _, rest = text.partition("\n")
        methods: dict[str, float] = {}
        for sentence in re.split(r"(?<=[.!?])\s+|\n", rest):
            found = self.methods.find(sentence)
            if not found:
                continue
            if self.desirable.search(sentence):
                weight = PREFERRED_WEIGHT
            elif self.essential.search(sentence):
                weight = REQUIRED_WEIGHT
            else:
                weight = MENTIONED_WEIGHT
            for method in found:
                methods[method] = max(weight, methods.get(method, 0.0))
        subfields = self.subfields.find(title)
        country = self._country(rest)
        return PostingReading(
            methods=methods,
            topics=frozenset(self.topics.find(rest)),
            subfield=subfields[0] if subfields else None,
            country=country,
            region=self.region_of.get(country) if country else None,
            levels=tuple(sorted({self.stage_of[s.lower()] for s in self.stages.find(title)})),
        )


def _trie_pattern(phrases: Iterable[str]) -> str:
    """A regex matching any of ``phrases``, longest first, as a character trie.

    Equivalent to an alternation of the phrases sorted by length, but the regex engine follows one
    branch per character instead of trying every phrase at every position (tens of times faster).
    """
    trie: dict[str, Any] = {}
    for phrase in phrases:
        node = trie
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return f"(?:{build(trie)})"


def _cue_pattern(cues: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(c) for c in cues) + r")\b", re.IGNORECASE)


def _section(markup: str, tag: str, *, leading: bool = False) -> str:
    """The inner text of ``<tag>…</tag>`` with ``<sep>`` as newlines (``leading``: tag already cut)."""
    start = 0 if leading else markup.find(f"<{tag}>")
    if start < 0:
        return ""
    start = start if leading else start + len(tag) + 2
    end = markup.find(f"</{tag}>", start)
    return markup[start : end if end >= 0 else len(markup)].replace("<sep>", "\n")


@lru_cache(maxsize=1)
def default_reader() -> Reader:
    """The reader of the package vocabulary (built once)."""
    return Reader(load_vocabulary())
