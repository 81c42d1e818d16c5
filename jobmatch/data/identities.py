"""Talent identities of a corpus file (for the fairness audit) and counterfactual corpora.

A corpus row may carry, beside ``id`` and ``text``, the talent's ``name`` and group fields: ``gender``
and ``origin`` (as the synthetic market writes them) or a generic ``group``. Selection rates need a
group field; counterfactuals need the ``name`` shown in the text and a ``gender`` or ``origin`` that
the package's name lists know (:mod:`jobmatch.data.synthetic.names`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
    talents were changed.
    """
    known = {"gender": GENDERS, "origin": ORIGINS}.get(attribute, ())
    groups = identities.groups.get(attribute, {})
    out, changed = dict(corpus), 0
    for cid, text in corpus.items():
        identity = identities.identity(cid) if groups.get(cid) in known else None
        if identity is None:
            continue
        new = counterfactual(identity, attribute, rng_for(seed, "counterfactual", attribute, cid))
        out[cid] = swap_identity(text, identity, new)
        changed += out[cid] != text
    return out, changed


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
    """
    out, changed = dict(corpus), 0
    for cid, text in corpus.items():
        identity = identities.identity(cid)
        if text.startswith(IDENTITY_PREFIX):
            out[cid] = strip_identity(text)
        elif identity is not None:
            out[cid] = _replace_cues(text, identity, ("", "", "", "")).strip()
        changed += out[cid] != text
    return out, changed


def _replace_cues(text: str, old: Identity, new: tuple[str, str, str, str]) -> str:
    """Each whole-word occurrence of ``old``'s name, given name and surname, and its pronoun cue, replaced by
    ``new`` (name, given name, surname, cue) in that order."""
    for before, after in zip((old.name, old.first, old.last), new[:3], strict=True):
        text = re.sub(rf"(?<!\w){re.escape(before)}(?!\w)", after, text)
    return text.replace(f"({old.pronouns})", new[3])
