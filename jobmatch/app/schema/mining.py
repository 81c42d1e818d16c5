"""The ``mining`` group (``conf/mining/``): hard negatives mined from a model's own ranking (mine, curriculum)."""

from __future__ import annotations

from dataclasses import dataclass

from jobmatch.retrieval.mining import STRATEGIES
from jobmatch.utils.option_rules import Choice, Num, option


@dataclass
class MiningOptions:
    """Which ranked talents become a JD's negatives."""

    window_start: int = option(0, "first rank of the mining window [start, end)", Num(low=0, integer=True))
    window_end: int = option(100, "end of the mining window (exclusive)", Num(low=1, integer=True))
    n_negatives: int = option(10, "negatives kept per JD (training draws data.n_negatives of them)",
                              Num(low=1, integer=True))
    strategy: str = option("topk", "topk | sample | cluster", Choice(STRATEGIES))
    n_clusters: int = option(10, "cluster: k-means clusters over the window", Num(low=1, integer=True))
    cluster_lambda: float = option(0.5, "cluster: the i-th candidate met in its cluster gets weight λ^i",
                                   Num(low=0, high=1, low_open=True))
    margin: float | None = option(0.95, "drop candidates above margin × the positives' mean score (null: off)",
                                  Num(low=0, low_open=True, nullable=True))
    seed: int = option("${seed}", "sampling seed (the run's seed)")
