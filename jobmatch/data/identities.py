"""Talent identities of a corpus file (for the fairness audit) and counterfactual corpora.

A corpus row may carry, beside ``id`` and ``text``, the talent's ``name`` and group fields: ``gender``
and ``origin`` (as the synthetic market writes them) or a generic ``group``. Selection rates need a
group field; counterfactuals need the ``name`` shown in the text and a ``gender`` or ``origin`` that
the package's name lists know (:mod:`jobmatch.data.synthetic.names`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jobmatch.data.corpus import ROWS_PER_BATCH, Corpus
from jobmatch.data.synthetic.names import (
    GENDERS,
    IDENTITY_PREFIX,
    NAMES,
    ORIGINS,
    Identity,
    counterfactual,
    strip_identity,
)
from jobmatch.data.synthetic.names import with_identity as _with_identity_line
from jobmatch.data.synthetic.seeding import rng_for
from jobmatch.errors import UserError

GROUP_FIELDS = ("gender", "origin", "group")
_KNOWN = {"gender": GENDERS, "origin": ORIGINS}  # the attributes whose groups a counterfactual can swap


@dataclass
class CorpusIdentities:
    """Per talent id: its groups by attribute (``{"gender": {cid: "female"}, ...}``) and its name."""

    groups: dict[str, dict[str, str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def attributes(self) -> list[str]:
        """The group fields present, in :data:`GROUP_FIELDS` order."""
        return [a for a in GROUP_FIELDS if self.groups.get(a)]

    def identity(self, cid: str) -> Identity | None:
        """The talent's :class:`Identity` when its name has a given name and a surname and its gender
        is known (the origin defaults to the first group when unknown); else None."""
        first, _, last = self.names.get(cid, "").partition(" ")
        gender, origin = self.groups.get("gender", {}).get(cid), self.groups.get("origin", {}).get(cid)
        if not first or not last or gender not in GENDERS:
            return None
        return Identity(first, last, gender, origin if origin in NAMES else ORIGINS[0])


def read_identities(path: str | Path) -> CorpusIdentities:
    """The optional ``name`` and group fields of a corpus JSONL (rows without them are left out)."""
    found = CorpusIdentities()
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}:{number}: not JSON ({err.msg}); fix the line") from None
            cid = str(row.get("id"))
            for attribute in GROUP_FIELDS:
                if isinstance(row.get(attribute), str) and row[attribute]:
                    found.groups.setdefault(attribute, {})[cid] = row[attribute]
            if isinstance(row.get("name"), str) and row["name"].strip():
                found.names[cid] = row["name"].strip()
    return found


def counterfactual_corpus(
    corpus: Mapping[str, str], identities: CorpusIdentities, attribute: str, seed: int = 0
) -> tuple[dict[str, str], int]:
    """The corpus with every talent's name (and pronouns) moved to another group of ``attribute``.

    Talents without a name or a known group keep their text. Returns the new corpus and how many
    talents were changed. For a corpus too large to copy, :func:`counterfactual_rows`.
    """
    out, changed = dict(corpus), 0
    for cid, text in corpus.items():
        out[cid] = counterfactual_text(cid, text, identities, attribute, seed)
        changed += out[cid] != text
    return out, changed


def counterfactual_text(cid: str, text: str, identities: CorpusIdentities, attribute: str, seed: int = 0) -> str:
    """Talent ``cid``'s ``text`` with its name (and pronouns) moved to another group of ``attribute`` (seeded per
    talent); the text itself when the talent has no name or no known group."""
    identity = identities.identity(cid) if identities.groups.get(attribute, {}).get(cid) in _KNOWN.get(
        attribute, ()) else None
    if identity is None:
        return text
    return swap_identity(text, identity, counterfactual(identity, attribute, rng_for(seed, "counterfactual",
                                                                                     attribute, cid)))


def counterfactual_rows(
    corpus: Corpus, identities: CorpusIdentities, attribute: str, seed: int = 0, rows_per_batch: int = ROWS_PER_BATCH
) -> Iterator[tuple[np.ndarray, list[str]]]:
    """(positions [M], new texts) of the talents whose text :func:`counterfactual_corpus` changes, batch by batch
    in corpus order; only the texts of talents with a name and a known group are read."""
    groups = identities.groups.get(attribute, {})
    candidates = [cid for cid, group in groups.items() if group in _KNOWN.get(attribute, ())
                  and identities.identity(cid) is not None]
    positions = np.sort(corpus.positions(candidates)) if candidates else np.zeros(0, dtype=np.int64)
    positions = positions[positions >= 0]
    ids = corpus.ids
    for start in range(0, len(positions), rows_per_batch):
        batch = positions[start : start + rows_per_batch]
        texts = corpus.texts(batch)
        new = [counterfactual_text(ids[p], t, identities, attribute, seed) for p, t in zip(batch.tolist(), texts,
                                                                                           strict=True)]
        changed = np.array([a != b for a, b in zip(new, texts, strict=True)], dtype=bool)
        yield batch[changed], [t for t, c in zip(new, changed.tolist(), strict=True) if c]
    corpus.store.release()


def swap_identity(text: str, old: Identity, new: Identity) -> str:
    """``text`` showing ``new`` instead of ``old``: the identity line of a synthetic profile, or
    elsewhere each occurrence of the name, its parts and the pronoun cue ``(she/her)``."""
    if text.startswith(IDENTITY_PREFIX):
        return _with_identity_line(text, new)
    return _replace_cues(text, old, (new.name, new.first, new.last, f"({new.pronouns})"))


def name_blind_corpus(corpus: Mapping[str, str], identities: CorpusIdentities) -> tuple[dict[str, str], int]:
    """The corpus with every talent's name and pronoun cue removed: a synthetic profile loses its identity
    line; elsewhere each occurrence of the talent's known name, its parts and ``(she/her)`` is deleted.

    The audit's control: the same model ranking profiles that show no name tells how far selection rates
    differ between groups without any name to react to. Returns the new corpus and how many talents changed.
    For a corpus too large to copy, :func:`name_blind_rows`.
    """
    out, changed = dict(corpus), 0
    for cid, text in corpus.items():
        out[cid] = name_blind_text(cid, text, identities)
        changed += out[cid] != text
    return out, changed


def name_blind_text(cid: str, text: str, identities: CorpusIdentities) -> str:
    """Talent ``cid``'s ``text`` without its name and pronoun cue (see :func:`name_blind_corpus`)."""
    if text.startswith(IDENTITY_PREFIX):
        return strip_identity(text)
    identity = identities.identity(cid)
    return text if identity is None else _replace_cues(text, identity, ("", "", "", "")).strip()


def name_blind_rows(
    corpus: Corpus, identities: CorpusIdentities, rows_per_batch: int = ROWS_PER_BATCH
) -> Iterator[tuple[np.ndarray, list[str]]]:
    """(positions [M], new texts) of the talents whose text :func:`name_blind_corpus` changes, batch by batch in
    corpus order (every text is read once: a synthetic profile shows its identity line without a known name)."""
    ids = corpus.ids
    for start, texts in corpus.iter_batches(rows_per_batch):
        new = [name_blind_text(ids[start + i], t, identities) for i, t in enumerate(texts)]
        changed = np.flatnonzero([a != b for a, b in zip(new, texts, strict=True)])
        yield start + changed, [new[i] for i in changed.tolist()]


def _replace_cues(text: str, old: Identity, new: tuple[str, str, str, str]) -> str:
    """Each whole-word occurrence of ``old``'s name, given name and surname, and its pronoun cue, replaced by
    ``new`` (name, given name, surname, cue) in that order."""
    for before, after in zip((old.name, old.first, old.last), new[:3], strict=True):
        text = re.sub(rf"(?<!\w){re.escape(before)}(?!\w)", after, text)
    return text.replace(f"({old.pronouns})", new[3])
