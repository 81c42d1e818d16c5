"""The embedded default benchmark: a seeded synthetic academic job market (docs/design.md §3).

Talents (researcher profiles in the reference markup) and JDs (academic postings) are generated
from a small package vocabulary; rule-based positives follow the paper's rules (geography, research
area, seniority); an offline judge prefers candidates by the fine-grained textual fit the rules
ignore. Typical use::

    from jobmatch.data.synthetic import ensure_dataset, preset
    data_dir = ensure_dataset(preset("synthetic_small"), "data_cache/synthetic_small")

or ``python -m jobmatch.data.synthetic --preset synthetic_small --out DIR``. Markets at scale
(``synthetic_10k`` ... ``synthetic_1m``, real-length or ``_short``) sample their labels and write rows
that refer to corpus ids; ``python -m jobmatch.data.synthetic.tile`` tiles a market with unique ids
(docs/design.md §3).
"""

from jobmatch.data.synthetic.config import DEFAULT, PRESETS, SMALL, SyntheticConfig, preset
from jobmatch.data.synthetic.entities import JD, Institution, Publication, Talent
from jobmatch.data.synthetic.generate import (
    DatasetMismatchError,
    dataset_fingerprint,
    ensure_dataset,
    generate_dataset,
    read_manifest,
)
from jobmatch.data.synthetic.judge import OfflineJudge
from jobmatch.data.synthetic.labels import Row, contrastive_row, label_row, sample_negatives, split_jds
from jobmatch.data.synthetic.match_rules import AREA, GEOGRAPHY, RULES, SENIORITY, failed_rules, is_match
from jobmatch.data.synthetic.vocabulary import Vocabulary, load_vocabulary
from jobmatch.data.synthetic.world import World, build_world

__all__ = [
    "AREA",
    "DEFAULT",
    "GEOGRAPHY",
    "JD",
    "PRESETS",
    "RULES",
    "SENIORITY",
    "SMALL",
    "DatasetMismatchError",
    "Institution",
    "OfflineJudge",
    "Publication",
    "Row",
    "SyntheticConfig",
    "Talent",
    "Vocabulary",
    "World",
    "build_world",
    "contrastive_row",
    "dataset_fingerprint",
    "ensure_dataset",
    "failed_rules",
    "generate_dataset",
    "is_match",
    "label_row",
    "load_vocabulary",
    "preset",
    "read_manifest",
    "sample_negatives",
    "split_jds",
]
