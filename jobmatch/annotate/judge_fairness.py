"""Does the judge change its verdict when only the candidates' names are swapped?

For a pair of talents (a, b) of one JD, the judge sees (a, b) and then the same two profiles with
their names and pronouns exchanged (a showing b's identity, b showing a's), in the same order. A
judge that reads only substance gives the same verdict; the flip rate counts how often it does not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from jobmatch.data.identities import CorpusIdentities, swap_identity
from jobmatch.data.judgement import Item, Judge, Judgement
from jobmatch.retrieval.alignment import bootstrap_interval

JudgeItems = Callable[[Judge, Sequence[Item]], list[tuple[Judgement | None, str | None]]]


def name_swap_pairs(
    top: Sequence[Sequence[str]],
    queries: Sequence[str],
    corpus: dict[str, str],
    identities: CorpusIdentities,
    *,
    per_query: int,
    seed: int = 0,
) -> tuple[list[Item], list[Item], list[tuple[str, str]]]:
    """(factual items, name-swapped items, the two names of each pair): ``per_query`` pairs per JD
    from its ranked talent ids ``top``, both talents with a known identity and different names."""
    rng = np.random.default_rng(seed)
    factual: list[Item] = []
    swapped: list[Item] = []
    pair_names: list[tuple[str, str]] = []
    for query, ranked in zip(queries, top, strict=True):
        named = [c for c in ranked if identities.identity(c) is not None]
        names = identities.names
        pairs = [(a, b) for i, a in enumerate(named) for b in named[i + 1 :] if names[a] != names[b]]
        for index in rng.permutation(len(pairs))[:per_query]:
            a, b = pairs[index]
            ia, ib = identities.identity(a), identities.identity(b)
            assert ia is not None and ib is not None
            factual.append((query, corpus[a], corpus[b]))
            swapped.append((query, swap_identity(corpus[a], ia, ib), swap_identity(corpus[b], ib, ia)))
            pair_names.append((ia.name, ib.name))
    return factual, swapped, pair_names


def judge_flip_rate(
    judge: Judge,
    factual: Sequence[Item],
    swapped: Sequence[Item],
    judge_items: JudgeItems,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """``judge/flip_rate`` (with a bootstrap 95% interval over pairs), ``judge/pairs`` judged both
    ways and ``judge/pairs_failed`` (a verdict missing on either side)."""
    verdicts = judge_items(judge, [*factual, *swapped])
    before, after = verdicts[: len(factual)], verdicts[len(factual) :]
    flips = np.array(
        [
            b[0].preferred != a[0].preferred
            for b, a in zip(before, after, strict=True)
            if b[0] is not None and a[0] is not None
        ],
        dtype=np.float64,
    )
    out = {"judge/pairs": float(len(flips)), "judge/pairs_failed": float(len(factual) - len(flips))}
    if len(flips):
        low, high = bootstrap_interval(flips, n_bootstrap=n_bootstrap, seed=seed)
        out |= {"judge/flip_rate": float(flips.mean()), "judge/flip_rate_ci_low": low, "judge/flip_rate_ci_high": high}
    return out
