"""The ``fairness`` group (``conf/fairness/``): the audit of selection rates and counterfactual name swaps."""

from __future__ import annotations

from dataclasses import dataclass

from jobmatch.utils.option_rules import Num, option


@dataclass
class FairnessOptions:
    """What the fairness audit measures."""

    enabled: bool = option(True, "the pipeline audits its stage-1 and stage-2 models (false: skip the step)")
    ks: list[int] = option([10, 20], "selection-rate cut-offs; the largest is the counterfactual membership cut-off")
    depth: int = option(100, "mean |Δ rank| and Δ score over each JD's factual top depth", Num(low=1, integer=True))
    n_bootstrap: int = option(1000, "resamples of the JDs for every interval", Num(low=1, integer=True))
    flag_below: float = option(0.8, "impact ratios below this are flagged (the four-fifths practice)", Num(low=0))
    judge_pairs_per_query: int = option(0, ">0: also ask the judge about name-swapped pairs of each JD's top 20",
                                        Num(low=0, integer=True))
