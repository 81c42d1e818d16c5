"""The ``pairs`` group (``conf/pairs/``, composed as ``annotate``): which ranked pairs the judge is asked about."""

from __future__ import annotations

from dataclasses import dataclass

from jobmatch.annotate.sampling import SAMPLERS
from jobmatch.utils.option_rules import RATIO, Choice, Num, Subset, option


@dataclass
class PairsOptions:
    """Pair sampling for annotation."""

    splits: list[str] = option(["train", "val", "test"], "JDs of these data files; pairs keep their JD's split",
                               Subset(("train", "val", "test"), min_len=1), example="[train,val,test]")
    top_k: int = option(100, "candidates per JD", Num(low=2, integer=True))
    pairs_per_query: int = option(10, "pairs per train JD (the stage-2 training pairs)", Num(low=1, integer=True))
    test_pairs_per_query: int | None = option(20, "pairs per val/test JD (null: as pairs_per_query)",
                                              Num(low=1, integer=True, nullable=True))
    sampler: str = option("uniform", "how training pairs are chosen: " + " | ".join(SAMPLERS), Choice(SAMPLERS))
    held_out_sampler: str | None = option("uniform", "how val/test pairs are chosen (null: as sampler)",
                                          Choice(SAMPLERS, nullable=True))
    judge_both_orders: bool = option(False, "ask each pair as (A, B) and (B, A); records get preference_probability")
    min_success: float = option(0.9, "fail (exit 2) when fewer than this share of the pairs got a verdict", RATIO)
