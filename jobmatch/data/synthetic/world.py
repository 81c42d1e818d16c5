"""The synthetic world: institutions, a talent corpus, and postings kept for their rule positives.

Postings are drawn one candidate at a time; a candidate is kept when its rule positives number
``min_positives..max_positives`` (the paper's sample has 1-10 per posting), so that every posting
has positives and none has so many that the qrels become trivial. A posting's rule candidates come
from a :class:`TalentIndex` (no scan of the corpus). With ``labels="complete"`` every rule match is
a positive; with ``labels="sampled"`` a posting keeps a uniform sample of its matches, found with a
bounded number of draws, so that the work per posting does not grow with the corpus.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from jobmatch.data.synthetic.config import SyntheticConfig
from jobmatch.data.synthetic.entities import JD, Institution, Talent
from jobmatch.data.synthetic.index import Candidates, TalentIndex
from jobmatch.data.synthetic.long_text import LongDraw, long_texts
from jobmatch.data.synthetic.match_rules import is_match
from jobmatch.data.synthetic.names import draw_identity, with_identity
from jobmatch.data.synthetic.places import build_institutions
from jobmatch.data.synthetic.postings import make_posting
from jobmatch.data.synthetic.seeding import rng_for
from jobmatch.data.synthetic.talents import make_talent
from jobmatch.data.synthetic.vocabulary import Vocabulary, load_vocabulary

MAX_ATTEMPTS_PER_JD = 50
ENUMERATE_LIMIT = 400  # sampled labels: a posting with at most this many candidates is checked in full
DRAWS_PER_POSITIVE = 40  # sampled labels: draw budget per positive sought among more candidates


def id_width(count: int) -> int:
    """Digits of the zero-padded ids of ``count`` items: 5, or more when ids would not sort by number."""
    return max(5, len(str(count - 1)))


@dataclass(frozen=True)
class World:
    """Talents, kept postings (in-distribution ``jds``, out-of-distribution ``ood_jds``), and each posting's
    rule positives (talent ids, sorted).

    ``rule_matches`` (sampled labels only) holds each posting's number of rule matches, counted where
    its candidates were checked in full and estimated from the draws elsewhere; ``talents_examined``
    is the number of talent checks the posting draw made (its work).
    """

    config: SyntheticConfig
    talents: Sequence[Talent]
    jds: tuple[JD, ...]
    positives: Mapping[str, tuple[str, ...]]
    candidates_drawn: int
    rejected_without_positive: int
    rejected_too_many: int
    ood_jds: tuple[JD, ...] = ()
    rule_matches: Mapping[str, float] = field(default_factory=dict)
    talents_examined: int = 0
    index: TalentIndex = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    _talent_index: dict[str, Talent] = field(init=False, repr=False, compare=False)
    _jd_index: dict[str, JD] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.index is None:
            object.__setattr__(self, "index", TalentIndex(self.talents))
        object.__setattr__(self, "_talent_index", {t.id: t for t in self.talents})
        object.__setattr__(self, "_jd_index", {j.id: j for j in self.jds + self.ood_jds})

    def talent(self, talent_id: str) -> Talent:
        """The talent with this id."""
        return self._talent_index[talent_id]

    def jd(self, jd_id: str) -> JD:
        """The posting with this id."""
        return self._jd_index[jd_id]

    def talents_in_field(self, field_name: str) -> tuple[Talent, ...]:
        """Talents with a subfield in ``field_name`` (the only ones that can meet the area rule)."""
        return tuple(self.index.in_field(field_name))


def build_world(config: SyntheticConfig, vocab: Vocabulary | None = None) -> World:
    """Generate the talents and the postings of ``config`` in memory, deterministically from its seed.

    Raises:
        ValueError: too few candidate postings had an acceptable number of positives.
    """
    vocab = vocab or load_vocabulary()
    institutions = build_institutions(vocab, rng_for(config.seed, "institutions"))
    talents = tuple(draw_talents(config, vocab, institutions))
    return draw_postings(config, vocab, institutions, talents)


def draw_talents(
    config: SyntheticConfig, vocab: Vocabulary, institutions: dict[str, tuple[Institution, ...]]
) -> Iterator[Talent]:
    """The corpus, one talent at a time (each from its own seeded streams, so it can be streamed)."""
    width = id_width(config.n_talents)
    for i in range(config.n_talents):
        rng, talent_id = rng_for(config.seed, "talent", i), f"talent-{i:0{width}d}"
        talent = make_talent(vocab, rng, talent_id, institutions, long=_long(config, "talent", i))
        if config.talent_identities:  # a stream of its own: the rest of the market is drawn as without
            talent = _identified(talent, config.seed, i)
        yield talent


def draw_postings(
    config: SyntheticConfig,
    vocab: Vocabulary,
    institutions: dict[str, tuple[Institution, ...]],
    talents: Sequence[Talent],
    keep: Callable[[JD], JD] = lambda jd: jd,
    progress: bool = False,
) -> World:
    """Draw candidate postings until ``n_jds`` (and the OOD split's) are kept; the world of ``talents``.

    ``keep`` maps each kept posting to what the world holds (e.g. a copy without its text, once the
    text is written elsewhere); ``progress`` shows a bar of kept postings.
    """
    unknown = sorted(set(config.ood_subfields) - {s.name for s in vocab.subfields})
    if unknown:
        raise ValueError(f"SyntheticConfig.ood_subfields names unknown subfields {unknown}; "
                         f"choose among {[s.name for s in vocab.subfields]}")
    index = TalentIndex(talents)
    width = id_width(max(config.n_jds, config.n_ood(), 1))
    jds: list[JD] = []
    ood_jds: list[JD] = []
    positives: dict[str, tuple[str, ...]] = {}
    matches: dict[str, float] = {}
    counts = {"none": 0, "many": 0}
    attempt = 0
    bar = tqdm(total=config.n_jds + config.n_ood(), desc="JDs", unit="JD", disable=not progress, mininterval=2.0)
    while len(jds) < config.n_jds or len(ood_jds) < config.n_ood():
        if attempt >= MAX_ATTEMPTS_PER_JD * (config.n_jds + config.n_ood()):
            raise ValueError(_too_few_message(config, attempt, len(jds), counts))
        number, attempt = attempt, attempt + 1
        jd = make_posting(
            vocab,
            rng_for(config.seed, "posting", number),
            f"candidate-{number}",
            institutions,
            relocation_probability=config.relocation_probability,
            two_level_probability=config.two_level_probability,
            long=_long(config, "posting", number),
        )
        ood = jd.subfield in config.ood_subfields
        if len(ood_jds if ood else jds) >= (config.n_ood() if ood else config.n_jds):
            continue  # that pool is full
        matched, n_matches = _matches(config, jd, index.candidates(jd), number)
        if len(matched) < config.min_positives:
            counts["none"] += 1
            continue
        if len(matched) > config.max_positives:
            counts["many"] += 1
            continue
        kept = ood_jds if ood else jds
        jd = dataclasses.replace(jd, id=f"jd-ood-{len(kept):0{width}d}" if ood else f"jd-{len(kept):0{width}d}")
        kept.append(keep(jd))
        bar.update()
        positives[jd.id] = tuple(sorted(matched))
        if config.labels == "sampled":
            matches[jd.id] = n_matches
    bar.close()
    return World(
        config=config,
        talents=talents,
        jds=tuple(jds),
        positives=positives,
        candidates_drawn=attempt,
        rejected_without_positive=counts["none"],
        rejected_too_many=counts["many"],
        ood_jds=tuple(ood_jds),
        rule_matches=matches,
        talents_examined=index.examined,
        index=index,
    )


def _long(config: SyntheticConfig, kind: str, number: int) -> LongDraw | None:
    """The real-length additions of one talent or posting: their own stream (none for short texts)."""
    if config.profile_length == "short":
        return None
    return LongDraw(long_texts(), rng_for(config.seed, f"{kind}-long", number))


def _matches(config: SyntheticConfig, jd: JD, candidates: Candidates, number: int) -> tuple[list[str], float]:
    """The rule matches a candidate posting would keep as positives, and how many it has in all."""
    if config.labels == "sampled":
        return _sampled_matches(config, jd, candidates, rng_for(config.seed, "positives", number))
    matched = _complete_matches(config, jd, candidates)
    return matched, float(len(matched))


def _complete_matches(config: SyntheticConfig, jd: JD, candidates: Candidates) -> list[str]:
    """Every rule match of ``jd`` (the count stops one past ``max_positives``: more only means too many)."""
    matched: list[str] = []
    for t in candidates:
        if is_match(jd, t, min_shared_keywords=config.min_shared_keywords):
            matched.append(t.id)
            if len(matched) > config.max_positives:
                break
    return matched


def _sampled_matches(
    config: SyntheticConfig, jd: JD, candidates: Candidates, rng: random.Random
) -> tuple[list[str], float]:
    """Up to ``k`` (uniform in min..max_positives) of ``jd``'s rule matches, uniformly, and their count.

    Few candidates are checked in full (the count is exact, and all matches are kept when they are
    at most ``k``); among more, candidates are drawn with replacement until ``k`` distinct matches
    are found or the budget is spent, and the count is estimated from the share of draws that matched.
    """
    k = rng.randint(config.min_positives, config.max_positives)
    if len(candidates) <= ENUMERATE_LIMIT:
        matched = sorted(t.id for t in candidates if is_match(jd, t, min_shared_keywords=config.min_shared_keywords))
        return (matched if len(matched) <= k else rng.sample(matched, k)), float(len(matched))
    found: dict[str, None] = {}
    draws = hits = 0
    while len(found) < k and draws < DRAWS_PER_POSITIVE * config.max_positives:
        talent = candidates[rng.randrange(len(candidates))]
        draws += 1
        if is_match(jd, talent, min_shared_keywords=config.min_shared_keywords):
            hits += 1
            found[talent.id] = None
    return list(found), len(candidates) * hits / draws


def _identified(talent: Talent, seed: int, index: int) -> Talent:
    identity = draw_identity(rng_for(seed, "identity", index))
    return dataclasses.replace(talent, identity=identity, text=with_identity(talent.text, identity))


def _too_few_message(config: SyntheticConfig, attempts: int, kept: int, counts: dict[str, int]) -> str:
    fix = (
        "With too few, raise n_talents or relocation_probability; with too many, lower them or raise "
        "max_positives"
    )
    if config.labels == "complete":
        fix += ", or use labels='sampled' (a large market has more rule matches per posting than it can label)"
    return (
        f"synthetic world: only {kept} of n_jds={config.n_jds} postings found with "
        f"{config.min_positives}..{config.max_positives} rule positives after {attempts} candidates "
        f"({counts['none']} had too few, {counts['many']} too many). {fix}."
    )
