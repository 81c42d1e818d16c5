"""Talents bucketed by field, country and career stage: a posting's rule candidates without a scan.

A talent can be a rule positive of a posting only if it works in the posting's field and passes
geography (the posting's country, or any country of its region when it allows relocation) and
seniority (a stage within one step of a level sought). Those are exact keys, so the talents that
pass them are a few buckets read one after another; only the area rule's keyword test is left to
check talent by talent. ``TalentIndex.examined`` counts the talents looked at: the generator's unit
of work, which tests bound per posting.
"""

from __future__ import annotations

import bisect
from array import array
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import overload

from jobmatch.data.synthetic.entities import JD, Talent


class Candidates(Sequence[Talent]):
    """Talents of some buckets in sequence: sized and indexable without copying; reads are counted."""

    def __init__(self, index: TalentIndex, parts: Sequence[array]) -> None:
        self._index = index
        self._parts = [p for p in parts if len(p)]
        self._ends: list[int] = []
        total = 0
        for part in self._parts:
            total += len(part)
            self._ends.append(total)

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    @overload
    def __getitem__(self, i: int) -> Talent: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Talent]: ...

    def __getitem__(self, i: int | slice) -> Talent | Sequence[Talent]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not 0 <= i < len(self):
            raise IndexError(i)
        part = bisect.bisect_right(self._ends, i)
        offset = i - (self._ends[part - 1] if part else 0)
        self._index.examined += 1
        return self._index.talents[self._parts[part][offset]]

    def __iter__(self) -> Iterator[Talent]:
        talents = self._index.talents
        for part in self._parts:
            for position in part:
                self._index.examined += 1
                yield talents[position]


class TalentIndex:
    """Positions of talents by (field, country, stage) and by field, in talent order.

    Args:
        talents: the corpus; only attributes are read (texts may be empty).
    """

    def __init__(self, talents: Sequence[Talent]) -> None:
        self.talents = talents
        self.examined = 0
        buckets: dict[tuple[str, str, int], array] = defaultdict(lambda: array("i"))
        by_field: dict[str, array] = defaultdict(lambda: array("i"))
        countries: dict[str, set[str]] = defaultdict(set)
        for position, t in enumerate(talents):
            countries[t.region].add(t.country)
            for f in t.fields:
                buckets[f, t.country, t.stage].append(position)
                by_field[f].append(position)
        self._buckets = dict(buckets)
        self._by_field = dict(by_field)
        self._region_countries = {region: tuple(sorted(names)) for region, names in countries.items()}
        self._stages = sorted({t.stage for t in talents})
        self._everyone: array | None = None

    def candidates(self, jd: JD) -> Candidates:
        """Talents in ``jd``'s field that pass its geography and seniority rules (a superset of its
        rule positives: exactly those on which the area rule decides)."""
        countries = self._region_countries.get(jd.region, ()) if jd.allows_relocation else (jd.country,)
        stages = [s for s in self._stages if any(abs(level - s) <= 1 for level in jd.levels)]
        empty = array("i")
        return Candidates(self, [self._buckets.get((jd.field, c, s), empty) for c in countries for s in stages])

    def in_field(self, field_name: str) -> Candidates:
        """Talents with a subfield in ``field_name``, in talent order."""
        return Candidates(self, [self._by_field.get(field_name, array("i"))])

    def everyone(self) -> Candidates:
        """Every talent, in talent order."""
        if self._everyone is None:
            self._everyone = array("i", range(len(self.talents)))
        return Candidates(self, [self._everyone])
