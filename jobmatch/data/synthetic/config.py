"""Configuration of the synthetic benchmark: sizes, label rules, judge noise, card settings, presets.

Every option that changes the generated files lives here, so that the config fingerprint (with the
generator version and the vocabulary digest) identifies a dataset. Invalid values fail at
construction with a ``ValueError`` that names the option and the fix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from jobmatch.defaults import DEFAULT_TOKENIZER  # torch-free (jobmatch.model imports torch)
from jobmatch.errors import OptionError

LABELS = ("complete", "sampled")
PROFILE_LENGTHS = ("short", "real")
# Options added after generator version 2, with their defaults: left out of ``to_dict`` at the default.
LATER_OPTIONS: dict[str, Any] = {"labels": "complete", "profile_length": "short", "inline_texts": True}
# Bump when a change to the code alters the generated files for an unchanged config.
GENERATOR_VERSION = "2"  # 2: the out-of-distribution test split (test_ood.jsonl)


@dataclass(frozen=True)
class SyntheticConfig:
    """Options of :func:`jobmatch.data.synthetic.generate_dataset`.

    Attributes:
        seed: seed of every random choice; the same config gives byte-identical files.
        n_talents: size of the shared talent corpus.
        n_jds: postings kept across the three splits (each with min..max rule positives).
        train_fraction, val_fraction, test_fraction: split shares of the postings (sum to 1).
        n_negatives: negatives per contrastive row (the reference uses 10).
        hard_negative_fraction: share of negatives drawn from talents in the posting's research
            area that fail geography or seniority; the rest are uniformly random non-matches.
        min_positives, max_positives: a posting is kept only if its rule positives number in this range.
        relocation_probability: chance that a posting accepts candidates from its whole region.
        two_level_probability: chance that a posting seeks two adjacent career stages.
        min_shared_keywords: the area rule's threshold for same-field, different-subfield talents.
        judge_noise: standard deviation of the offline judge's per-pair noise (score units).
        judge_pairs: pairs sampled for the judge statistics of the dataset card.
        ood_subfields: subfields no in-distribution posting (train, val, test) asks for; postings in them
            form the out-of-distribution test split ``test_ood`` (their fields are seen in training, and
            talents in them are in the corpus, so they have rule positives). Empty: no OOD split.
        ood_fraction: size of the OOD split as a share of ``n_jds`` (drawn on top of the ``n_jds``).
        tokenizer: model source of the tokenizer that counts tokens for the card.
        query_max_length, passage_max_length: truncation lengths the card reports against.
        talent_identities: open each profile with a name and pronouns (``Name: … (she/her)``) drawn
            from seeded name lists by gender and name-origin group (see :mod:`names`); the rules and
            the offline judge ignore the line, so the fairness audit measures what a model learns.
        labels: how a posting's positives and negatives are found. ``"complete"``: every rule match is
            a positive and a posting with more than ``max_positives`` is redrawn; negatives come from
            the complete pools (the demo presets; the work grows with talents × JDs, fine up to ~10^4
            talents). ``"sampled"``: linear in the output: a posting keeps ``min..max_positives``
            (uniform) of its rule matches, drawn from its candidate buckets, and negatives are drawn
            by rejection; rule matches beyond those stay unlabelled (the card estimates how many).
            With a fixed vocabulary a posting's rule matches grow with the corpus (~18 at 10^4
            talents, ~180 at 10^5), so a large market cannot label them all.
        profile_length: ``"short"`` (~270-token talents, ~210-token JDs) or ``"real"``: the length
            distribution of the authors' sample (talents ~700-9,000 tokens, median ~3,500, from more
            publications with longer abstracts; JDs ~450-1,000 tokens). Real-length texts are the short
            texts with more added from a stream of their own, so labels are the same for both.
        inline_texts: write train/val/test rows in the reference format (texts inline, plus ids);
            ``False`` writes ``{"query_id", "query", "positive_ids", "negative_ids"}`` rows that refer
            to ``corpus.jsonl`` by id (a large market's rows would otherwise copy gigabytes of profiles).
    """

    seed: int = 0
    n_talents: int = 1000
    n_jds: int = 300
    train_fraction: float = 0.8
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    n_negatives: int = 10
    hard_negative_fraction: float = 0.6
    min_positives: int = 1
    max_positives: int = 10
    relocation_probability: float = 0.3
    two_level_probability: float = 0.3
    min_shared_keywords: int = 2
    judge_noise: float = 0.3
    judge_pairs: int = 1000
    ood_subfields: tuple[str, ...] = ("Computer Vision", "Neuroscience", "Astrophysics")
    ood_fraction: float = 0.1
    tokenizer: str = DEFAULT_TOKENIZER
    query_max_length: int = 256
    passage_max_length: int = 256
    talent_identities: bool = True
    labels: str = "complete"
    profile_length: str = "short"
    inline_texts: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "ood_subfields", tuple(self.ood_subfields))  # a list from JSON or Hydra
        _validate(self)

    def n_ood(self) -> int:
        """Postings of the out-of-distribution test split (0 without ``ood_subfields``)."""
        return round(self.n_jds * self.ood_fraction) if self.ood_subfields else 0

    def split_sizes(self) -> tuple[int, int, int]:
        """Postings in train, val and test (rounded; test takes the remainder)."""
        n_val = round(self.n_jds * self.val_fraction)
        n_test = round(self.n_jds * self.test_fraction)
        return self.n_jds - n_val - n_test, n_val, n_test

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain dict (JSON-serialisable: tuples become lists, as JSON reads them back).

        Options added after generator version 2 (:data:`LATER_OPTIONS`) appear only when they differ
        from their defaults, so that the datasets of earlier configs keep their manifests and fingerprints.
        """
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items()
            if k not in LATER_OPTIONS or v != LATER_OPTIONS[k]
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SyntheticConfig:
        """Build from a dict; unknown keys are an error naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"SyntheticConfig: unknown option(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def fingerprint(self, vocabulary_digest: str = "") -> str:
        """A short hash of the options, the generator version and the vocabulary digest."""
        payload = json.dumps(
            {
                "config": self.to_dict(),
                "generator_version": GENERATOR_VERSION,
                "vocabulary": vocabulary_digest,
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _fail(option: str, value: object, fix: str) -> None:
    """Raise an :class:`OptionError` naming the field ``option`` (the application names it as its option)."""
    raise OptionError(f"{{{option}}}={value!r}: invalid; {fix}")


def _validate(c: SyntheticConfig) -> None:
    for option in (
        "n_talents",
        "n_jds",
        "max_positives",
        "min_positives",
        "min_shared_keywords",
        "judge_pairs",
        "query_max_length",
        "passage_max_length",
    ):
        value = getattr(c, option)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            _fail(option, value, "use a positive integer")
    if isinstance(c.n_negatives, bool) or not isinstance(c.n_negatives, int) or c.n_negatives < 0:
        _fail("n_negatives", c.n_negatives, "use an integer >= 0")
    for option in ("train_fraction", "val_fraction", "test_fraction"):
        value = getattr(c, option)
        if not 0 < value < 1:
            _fail(option, value, "split fractions must lie strictly between 0 and 1")
    total = c.train_fraction + c.val_fraction + c.test_fraction
    if not math.isclose(total, 1.0, abs_tol=1e-9):
        _fail(
            "train_fraction",
            c.train_fraction,
            f"train_fraction + val_fraction + test_fraction = {total:g}; they must sum to 1",
        )
    if min(c.split_sizes()) < 1:
        _fail(
            "n_jds",
            c.n_jds,
            f"splits would be {c.split_sizes()} postings; raise n_jds or the fractions "
            "so that every split gets at least one posting",
        )
    for option in ("hard_negative_fraction", "relocation_probability", "two_level_probability"):
        value = getattr(c, option)
        if not 0 <= value <= 1:
            _fail(option, value, "use a probability in [0, 1]")
    if c.min_positives > c.max_positives:
        _fail("min_positives", c.min_positives, f"must not exceed max_positives={c.max_positives}")
    if c.n_negatives > c.n_talents - c.max_positives:
        _fail(
            "n_negatives",
            c.n_negatives,
            f"each posting needs that many talents besides its up to max_positives={c.max_positives} "
            f"positives; use n_negatives <= n_talents - max_positives = {c.n_talents - c.max_positives} "
            "or raise n_talents",
        )
    if not 0 <= c.ood_fraction < 1:
        _fail("ood_fraction", c.ood_fraction, "use a share of n_jds in [0, 1)")
    if c.judge_noise < 0:
        _fail("judge_noise", c.judge_noise, "use a standard deviation >= 0")
    for option, allowed in (("labels", LABELS), ("profile_length", PROFILE_LENGTHS)):
        if getattr(c, option) not in allowed:
            _fail(option, getattr(c, option), f"choose one of {list(allowed)}")
    if not isinstance(c.inline_texts, bool):
        _fail("inline_texts", c.inline_texts, "use true (texts inline) or false (rows refer to corpus ids)")


SMALL = SyntheticConfig(n_talents=1000, n_jds=300)
DEFAULT = SyntheticConfig(n_talents=5000, n_jds=1500, relocation_probability=0.15, judge_pairs=2000)
# Markets at scale: JDs grow with talents (0.3 per talent, as in the demo presets: 3x10^4 JDs for
# 10^5 talents, the generation target), labels are sampled (linear) and rows refer to
# corpus ids. The real-length ones have the authors' sample's text lengths; ``_short`` ones the demo's.
SCALE_PRESETS: dict[str, SyntheticConfig] = {
    f"synthetic_{name}{suffix}": dataclasses.replace(
        DEFAULT, n_talents=n, n_jds=n * 3 // 10, labels="sampled", inline_texts=False, profile_length=length
    )
    for name, n in (("10k", 10_000), ("100k", 100_000), ("1m", 1_000_000))
    for suffix, length in (("", "real"), ("_short", "short"))
}
PRESETS: dict[str, SyntheticConfig] = {"synthetic_small": SMALL, "synthetic": DEFAULT, **SCALE_PRESETS}


def preset(name: str, **overrides: Any) -> SyntheticConfig:
    """The named preset (``synthetic_small``, ``synthetic`` or a scale preset), with optional overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown synthetic preset {name!r}; choose one of {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides) if overrides else PRESETS[name]
