"""The ``mining`` group (``conf/mining/``): hard negatives mined from a model's own ranking (mine, curriculum).

Its options are those of the library's :class:`~jobmatch.retrieval.mining.MiningConfig`, which ``mine`` builds
from this node; only the seed's default differs (the run's seed).
"""

from __future__ import annotations

from dataclasses import dataclass

from jobmatch.retrieval.mining import MiningConfig
from jobmatch.utils.option_rules import Num, option


@dataclass
class MiningOptions(MiningConfig):
    """Which ranked talents become a JD's negatives."""

    seed: int = option("${seed}", "seeds sampling and k-means (the run's seed)", Num(integer=True))
