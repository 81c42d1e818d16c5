"""The rule-based match of the paper: geography, research area and seniority (docs/design.md §1).

A talent is a rule positive of a posting when all three rules hold:

- geography: same country, or same region when the posting allows relocation;
- area: the posting's subfield is one of the talent's, or the talent works in the posting's field
  and shares at least ``min_shared_keywords`` research terms with it;
- seniority: one of the levels sought is within one step of the talent's career stage.
"""

from __future__ import annotations

from jobmatch.data.synthetic.entities import JD, Talent

GEOGRAPHY = "geography"
AREA = "area"
SENIORITY = "seniority"
RULES: tuple[str, ...] = (GEOGRAPHY, AREA, SENIORITY)


def geography_ok(jd: JD, talent: Talent) -> bool:
    """Same country, or same region when the posting allows relocation."""
    if talent.country == jd.country:
        return True
    return jd.allows_relocation and talent.region == jd.region


def area_ok(jd: JD, talent: Talent, *, min_shared_keywords: int = 2) -> bool:
    """Same subfield, or same field with at least ``min_shared_keywords`` shared research terms."""
    if jd.subfield in talent.subfields:
        return True
    return jd.field in talent.fields and len(jd.keywords & talent.keywords) >= min_shared_keywords


def seniority_ok(jd: JD, talent: Talent) -> bool:
    """A level sought is within one career step of the talent's stage."""
    return any(abs(level - talent.stage) <= 1 for level in jd.levels)


def failed_rules(jd: JD, talent: Talent, *, min_shared_keywords: int = 2) -> tuple[str, ...]:
    """The rules (in :data:`RULES` order) that the pair violates; empty for a match."""
    failed: list[str] = []
    if not geography_ok(jd, talent):
        failed.append(GEOGRAPHY)
    if not area_ok(jd, talent, min_shared_keywords=min_shared_keywords):
        failed.append(AREA)
    if not seniority_ok(jd, talent):
        failed.append(SENIORITY)
    return tuple(failed)


def is_match(jd: JD, talent: Talent, *, min_shared_keywords: int = 2) -> bool:
    """Whether the talent is a rule positive of the posting (``failed_rules`` is empty)."""
    return (
        geography_ok(jd, talent)
        and seniority_ok(jd, talent)
        and area_ok(jd, talent, min_shared_keywords=min_shared_keywords)
    )
