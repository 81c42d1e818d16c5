"""Redact personal identifiers from what a remote judge is sent (``judge.redact``).

The JD and both profiles of every item pass through :func:`jobmatch.privacy.redact` before the
judge sees them; the preference files keep the original texts (training needs them). Names come
from the data (the corpus's ``name`` field) and, for data that does not mark them, from the
package's name lists (a given name followed by a surname of the lists).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from jobmatch.data.judgement import Item
from jobmatch.data.synthetic.names import NAMES
from jobmatch.privacy import PLACEHOLDERS, redact


@lru_cache(maxsize=1)
def _listed_full_names() -> re.Pattern[str]:
    firsts = sorted({n for female, male, _ in NAMES.values() for n in (*female, *male)}, key=len, reverse=True)
    lasts = sorted({n for _, _, surnames in NAMES.values() for n in surnames}, key=len, reverse=True)
    return re.compile(rf"(?<!\w)(?:{'|'.join(firsts)})\s+(?:{'|'.join(lasts)})(?!\w)")


def redact_items(items: Sequence[Item], names: Sequence[Sequence[str]]) -> tuple[list[Item], dict[str, int]]:
    """Every item with its three texts redacted, and the counts by kind over all items.

    Args:
        items: (JD, profile A, profile B) triples.
        names: per item, the people's names known to occur in it (e.g. both talents' names).
    """
    counts: Counter[str] = Counter()
    out: list[Item] = []
    for item, known in zip(items, names, strict=True):
        texts = []
        for text in item:
            listed = _listed_full_names().findall(text)
            result = redact(text, [*known, *listed])
            counts.update(result.counts)
            texts.append(result.text)
        out.append((texts[0], texts[1], texts[2]))
    return out, {kind: counts.get(kind, 0) for kind in PLACEHOLDERS}
