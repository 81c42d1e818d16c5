"""Figures of a generated dataset for its card and manifest: sizes, positives, lengths, judge behaviour.

All figures are deterministic for a config (the judge pairs and any text samples are drawn from the
seed), so that the card is part of the byte-identical output. Rows are :class:`labels.Row` (ids);
texts come from lookups, so a market whose texts live on disk is measured without loading them.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from jobmatch.data.synthetic.judge import OfflineJudge
from jobmatch.data.synthetic.labels import Row
from jobmatch.data.synthetic.match_rules import AREA, failed_rules
from jobmatch.data.synthetic.seeding import rng_for
from jobmatch.data.synthetic.talents import MARKUP_TOKENS
from jobmatch.data.synthetic.world import World

CONFIDENT = 75  # a verdict at or above this confidence counts as confident
TOKEN_ALL = 5000  # texts tokenised for the card: all up to this many (the demo presets), else a sample
TOKEN_SAMPLE = 2000  # texts of that seeded sample (quantiles within a few percent; real-length texts are slow)
TOKEN_BATCH = 256  # texts per tokenizer call (only the lengths are kept)


def summary(values: Sequence[float]) -> dict[str, float]:
    """min, mean, median, 90th percentile and max, rounded."""
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return {
        "min": ordered[0],
        "mean": round(statistics.fmean(ordered), 2),
        "median": statistics.median(ordered),
        "p90": p90,
        "max": ordered[-1],
    }


def positives_figures(rows: Mapping[str, Sequence[Row]]) -> dict[str, Any]:
    """Positives per posting by split, and the histogram over all postings."""
    counts = {name: [len(r.positive_ids) for r in split] for name, split in rows.items()}
    everything = [c for split in counts.values() for c in split]
    return {
        "per_split": {name: summary(c) for name, c in counts.items()},
        "histogram": dict(sorted(Counter(everything).items())),
    }


def negatives_figures(world: World, rows: Mapping[str, Sequence[Row]]) -> dict[str, Any]:
    """How many negatives fail each combination of rules (shares of all negatives)."""
    failed: Counter[str] = Counter()
    for split in rows.values():
        for row in split:
            jd = world.jd(row.query_id)
            for tid in row.negative_ids:
                rules = failed_rules(jd, world.talent(tid), min_shared_keywords=world.config.min_shared_keywords)
                failed["+".join(rules)] += 1
    total = sum(failed.values())
    return {"total": total, "failed_rules_share": {k: round(v / total, 3) for k, v in sorted(failed.items())}}


def token_figures(
    texts: Callable[[int], str], count: int, tokenizer: Any, max_length: int, *, seed: int, name: str
) -> dict[str, Any]:
    """Token lengths (with special tokens) of the ``count`` texts ``texts(0..count-1)``, and the share
    longer than ``max_length``; above :data:`TOKEN_ALL` texts, of a seeded sample (``sample``: its size)."""
    positions: Sequence[int] = range(count)
    if count > TOKEN_ALL:
        positions = sorted(rng_for(seed, "card", "tokens", name).sample(range(count), TOKEN_SAMPLE))
    lengths: list[int] = []
    for start in range(0, len(positions), TOKEN_BATCH):
        batch = [texts(i) for i in positions[start : start + TOKEN_BATCH]]
        lengths += [len(ids) for ids in tokenizer(batch, add_special_tokens=True, verbose=False)["input_ids"]]
    truncated = sum(n > max_length for n in lengths) / len(lengths)
    out = {"tokens": summary(lengths), "max_length": max_length, "truncated_share": round(truncated, 3)}
    if count > TOKEN_ALL:
        out["sample"] = {"texts": len(lengths), "of": count}
    return out


def judge_figures(
    world: World, rows: Mapping[str, Sequence[Row]], jd_text: Callable[[str], str], talent_text: Callable[[str], str]
) -> dict[str, Any]:
    """The offline judge against the rules, on ``judge_pairs`` seeded draws.

    agreement: share of (positive, negative) pairs, in random order, where the judge prefers the
    positive; also by negative kind (same area, i.e. failing only geography/seniority, or not).
    positive pairs: for two positives of one posting, the mean confidence and the share of
    confident verdicts (confidence >= 75): how strongly it ranks what the rules leave tied.
    """
    config = world.config
    judge = OfflineJudge(seed=config.seed, noise=config.judge_noise)
    rng = rng_for(config.seed, "card", "judge")
    all_rows = [r for name in sorted(rows) for r in rows[name]]
    multi = [r for r in all_rows if len(r.positive_ids) >= 2]
    agree: dict[str, list[bool]] = {"same_area": [], "other_area": []}
    confidences: list[int] = []
    for _ in range(config.judge_pairs):
        row = all_rows[rng.randrange(len(all_rows))]
        i, k = rng.randrange(len(row.positive_ids)), rng.randrange(len(row.negative_ids))
        jd, negative = world.jd(row.query_id), world.talent(row.negative_ids[k])
        kind = (
            "other_area"
            if AREA in failed_rules(jd, negative, min_shared_keywords=config.min_shared_keywords)
            else "same_area"
        )
        query, positive, negative_text = (
            jd_text(row.query_id), talent_text(row.positive_ids[i]), talent_text(row.negative_ids[k])
        )
        if rng.random() < 0.5:
            agree[kind].append(judge.judge(query, positive, negative_text).preferred == "A")
        else:
            agree[kind].append(judge.judge(query, negative_text, positive).preferred == "B")
        if multi:
            pair_row = multi[rng.randrange(len(multi))]
            a, b = rng.sample(range(len(pair_row.positive_ids)), 2)
            confidences.append(
                judge.judge(
                    jd_text(pair_row.query_id),
                    talent_text(pair_row.positive_ids[a]),
                    talent_text(pair_row.positive_ids[b]),
                ).confidence_score
            )
    every = agree["same_area"] + agree["other_area"]
    return {
        "judge": judge.name,
        "pairs": len(every),
        "agreement": round(statistics.fmean(every), 3),
        "agreement_by_negative": {k: round(statistics.fmean(v), 3) if v else None for k, v in agree.items()},
        "negatives_same_area_share": round(len(agree["same_area"]) / len(every), 3),
        "positive_pairs": len(confidences),
        "positive_pairs_mean_confidence": round(statistics.fmean(confidences), 1) if confidences else None,
        "positive_pairs_confident_share": (
            round(sum(c >= CONFIDENT for c in confidences) / len(confidences), 3) if confidences else None
        ),
    }


def load_counting_tokenizer(source: str) -> Any:
    """The tokenizer that counts tokens, with the profile markup as special tokens (as the encoder adds).

    Imported lazily: transformers (and jobmatch.model, which loads torch) take seconds to import.
    """
    from transformers import AutoTokenizer

    from jobmatch.model.sources import resolve_model_source

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_source(source))
    tokenizer.add_special_tokens({"additional_special_tokens": list(MARKUP_TOKENS)})
    return tokenizer


def identity_figures(groups: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Talents per gender and per name-origin group, from (gender, origin) pairs (empty without identities)."""
    genders: Counter[str] = Counter()
    origins: Counter[str] = Counter()
    for gender, origin in groups:
        genders[gender] += 1
        origins[origin] += 1
    return {"gender": dict(sorted(genders.items())), "origin": dict(sorted(origins.items()))}


def label_figures(world: World) -> dict[str, Any]:
    """Sampled labels: rule matches per posting (estimated where not counted in full), the share of
    postings whose positives are all of their rule matches, and the talents checked per candidate."""
    jds = world.jds + world.ood_jds
    matches = [world.rule_matches[j.id] for j in jds]
    complete = sum(len(world.positives[j.id]) >= round(world.rule_matches[j.id]) for j in jds)
    return {
        "mode": "sampled",
        "rule_matches": summary([round(m, 1) for m in matches]),
        "complete_share": round(complete / len(jds), 3),
        "talents_examined_per_candidate": round(world.talents_examined / world.candidates_drawn, 1),
    }
