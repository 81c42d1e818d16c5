"""The offline judge: a seeded, rule-free stand-in for the paper's LLM judge.

It reads the posting and the two profiles (:mod:`reading`) and scores each profile by

    5.0·method_fit + 1.0·topic_fit + 0.3·subfield + 0.3·geography + 0.3·seniority

where ``method_fit`` is the importance-weighted share of the posting's methods that the profile's
titles and abstracts actually use (saturating in the number of uses: 1 - 0.5^count) and the last
three are the coarse attributes the rules use, weighed weakly. The verdict is the sign of the score
difference plus Gaussian noise drawn from (seed, query, unordered pair), so that it does not depend
on call order and swapping A and B flips it with the same confidence. A profile's identity line
(name and pronouns, :mod:`names`) is dropped before anything is read or keyed, so the judge ignores
it by construction.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence

from jobmatch.data.judgement import Judgement
from jobmatch.data.synthetic.names import strip_identity
from jobmatch.data.synthetic.reading import PostingReading, Reader, TalentReading, default_reader
from jobmatch.data.synthetic.text import and_list
from jobmatch.data.synthetic.vocabulary import Vocabulary

WEIGHTS = {"method": 5.0, "topic": 1.0, "subfield": 0.3, "geography": 0.3, "seniority": 0.3}
CONFIDENCE_SCALE = 1.0  # score difference at which confidence reaches 50 + 50·tanh(1) ≈ 88


class OfflineJudge:
    """A deterministic pairwise judge implementing :class:`jobmatch.data.judgement.Judge`.

    Args:
        seed: seed of the per-pair noise.
        noise: standard deviation of the noise added to the score difference.
        vocab: the vocabulary it reads with (the package's by default).
    """

    def __init__(self, seed: int = 0, noise: float = 0.3, vocab: Vocabulary | None = None) -> None:
        if noise < 0:
            raise ValueError(f"OfflineJudge noise={noise} must be >= 0")
        self.seed = seed
        self.noise = noise
        self.reader = Reader(vocab) if vocab is not None else default_reader()
        self.name = f"offline-judge(seed={seed},noise={noise:g})"

    def score(self, query: str, passage: str) -> dict[str, float]:
        """The judge's component scores of one passage for one query, and their weighted ``total``."""
        return _components(self.reader.posting(query), self.reader.talent(strip_identity(passage)))

    def noiseless_totals(self, triples: Sequence[tuple[str, str, str]]) -> list[tuple[float, float]]:
        """The noiseless ``total`` of both talents of each (query, passage_a, passage_b), each text read once.

        Its sign difference is the judge's intent: the verdict it would give without noise.
        """
        postings: dict[str, PostingReading] = {}
        talents: dict[str, TalentReading] = {}
        out = []
        for query, passage_a, passage_b in triples:
            posting = postings.get(query) or postings.setdefault(query, self.reader.posting(query))
            pair = []
            for passage in (passage_a, passage_b):
                reading = talents.get(passage) or talents.setdefault(passage, self.reader.talent(passage))
                pair.append(_components(posting, reading)["total"])
            out.append((pair[0], pair[1]))
        return out

    def judge(self, query: str, passage_a: str, passage_b: str) -> Judgement:
        """Compare two talents for a posting; see the module docstring for the scoring."""
        passage_a, passage_b = strip_identity(passage_a), strip_identity(passage_b)
        posting = self.reader.posting(query)
        reading_a, reading_b = self.reader.talent(passage_a), self.reader.talent(passage_b)
        score_a = _components(posting, reading_a)
        score_b = _components(posting, reading_b)
        diff = score_a["total"] - score_b["total"] + self._noise(query, passage_a, passage_b)
        if diff == 0:  # exact tie: break by the text order, which also flips with the order
            diff = 1e-9 if passage_a < passage_b else -1e-9
        preferred = "A" if diff > 0 else "B"
        confidence = round(50 + 50 * math.tanh(abs(diff) / CONFIDENCE_SCALE))
        response = _rationale(posting, (reading_a, reading_b), (score_a, score_b), preferred, confidence)
        return Judgement(preferred=preferred, confidence_score=min(confidence, 100), response=response)

    def _noise(self, query: str, passage_a: str, passage_b: str) -> float:
        """Noise on ``score_a - score_b``: drawn for the unordered pair, signed by the order."""
        if self.noise == 0 or passage_a == passage_b:
            return 0.0
        first, second = sorted((passage_a, passage_b))
        key = "\x1f".join((str(self.seed), query, first, second)).encode("utf-8")
        value = random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")).gauss(
            0.0, self.noise
        )
        return value if passage_a == first else -value


def _components(posting: PostingReading, talent: TalentReading) -> dict[str, float]:
    total_weight = sum(posting.methods.values())
    method_fit = sum(w * (1 - 0.5 ** talent.method_counts.get(m, 0)) for m, w in posting.methods.items())
    parts = {
        "method": method_fit / total_weight if total_weight else 0.0,
        "topic": len(posting.topics & talent.topics) / len(posting.topics) if posting.topics else 0.0,
        "subfield": float(posting.subfield is not None and posting.subfield in talent.subfields),
        "geography": _geography(posting, talent),
        "seniority": float(talent.stage is not None and any(abs(lv - talent.stage) <= 1 for lv in posting.levels)),
    }
    parts["total"] = sum(WEIGHTS[k] * v for k, v in parts.items())
    return parts


def _geography(posting: PostingReading, talent: TalentReading) -> float:
    if posting.country is not None and posting.country == talent.country:
        return 1.0
    return 0.5 if posting.region is not None and posting.region == talent.region else 0.0


def _methods_phrase(label: str, posting: PostingReading, talent: TalentReading) -> str:
    used = [m for m in posting.methods if talent.method_counts.get(m, 0) > 0]
    if not used:
        return f"Candidate {label}'s publications use none of the methods the posting asks for."
    required = [m for m, w in posting.methods.items() if w >= 1.0]
    missing = [m for m in required if m not in used]
    tail = f", but not {and_list(missing)}" if missing else (", including every essential one" if required else "")
    return (
        f"Candidate {label}'s publications apply {and_list(used)} "
        f"({len(used)} of the {len(posting.methods)} methods named in the posting{tail})."
    )


def _rationale(
    posting: PostingReading,
    readings: tuple[TalentReading, TalentReading],
    scores: tuple[dict[str, float], dict[str, float]],
    preferred: str,
    confidence: int,
) -> str:
    sentences = [_methods_phrase(label, posting, r) for label, r in zip("AB", readings, strict=True)]
    topic_a, topic_b = (round(s["topic"] * len(posting.topics)) for s in scores)
    if topic_a != topic_b:
        sentences.append(
            f"On research topics, A covers {topic_a} and B {topic_b} of the {len(posting.topics)} the posting names."
        )
    if scores[0]["geography"] != scores[1]["geography"]:
        closer = "A" if scores[0]["geography"] > scores[1]["geography"] else "B"
        sentences.append(f"Candidate {closer} is based closer to the position.")
    if scores[0]["seniority"] != scores[1]["seniority"]:
        fitting = "A" if scores[0]["seniority"] > scores[1]["seniority"] else "B"
        sentences.append(f"Candidate {fitting}'s career stage fits the level sought better.")
    other = "B" if preferred == "A" else "A"
    sentences.append(f"Overall, Candidate {preferred} is a stronger match than Candidate {other}.")
    return f"Comparison: {' '.join(sentences)}\n\nPreferred: {preferred}\nConfidence score: {confidence}"
