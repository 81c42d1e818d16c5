"""The ``data`` group (``conf/data/``): the contrastive files, the judged pairs of stage 2, batching and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobmatch.utils.option_rules import FRACTION, Choice, Num, option


@dataclass
class SyntheticData:
    """``data.synthetic``: the seeded synthetic job market the data presets generate on first use."""

    preset: str = option("synthetic_small", "the generator preset (jobmatch.data.synthetic.config.PRESETS)")
    seed: int = option(0, "the generator seed (same seed: byte-identical files)", Num(integer=True))
    overrides: Any = option(None, "any SyntheticConfig option, e.g. {n_talents: 2000, judge_noise: 0.5}", free=True)


@dataclass
class DataOptions:
    """The options every data preset sets (``jsonl`` holds these defaults; the synthetic presets add ``synthetic``
    and ``dir`` and point the files there)."""

    train_file: str | None = option(None, "contrastive training rows ({query, positives, negatives} per line)")
    val_file: str | None = option(None, "validation rows (null: hold out val_fraction of the training queries)")
    test_file: str | None = option(None, "the rule-based test split; evaluation falls back to val_file")
    test_ood_file: str | None = option(None, "an out-of-distribution test split, evaluated as test_ood/...")
    corpus_file: str | None = option(None, "talents {id, text} per line (null: every passage of the files)")
    val_fraction: float = option(0.1, "share of training queries held out when val_file is null", FRACTION)
    n_negatives: int = option(5, "negatives drawn per query and epoch", Num(low=0, integer=True))
    batch_size: int = option(8, "queries per batch and device; in-batch negatives grow with it",
                             Num(low=1, integer=True))
    eval_batch_size: int = option(32, "queries per evaluation batch", Num(low=1, integer=True))
    max_query_length: int = option(256, "tokens kept per JD", Num(low=1, integer=True))
    max_passage_length: int = option(256, "tokens kept per talent", Num(low=1, integer=True))
    num_workers: int = option(0, "DataLoader worker processes", Num(low=0, integer=True))
    pad_to_multiple_of: int | None = option(8, "pad token batches to a multiple of this (null: no rounding)",
                                            Num(low=1, integer=True, nullable=True))
    on_error: str = option("raise", "a bad input line: raise, or skip it with a warning and a count",
                           Choice(("raise", "skip")), example="skip")
    write_texts: bool = option(False, "files the tasks write name talents by corpus id (false) or hold texts (true)")
    preference_train_file: str | None = option(None, "stage 2: judged pairs {query, passage1, passage2, preferred, "
                                                     "confidence_score}")
    preference_val_file: str | None = option(None, "null: hold out preference_val_fraction of the training JDs")
    preference_test_file: str | None = option(None, "null: hold out preference_test_fraction of the JDs")
    preference_val_fraction: float = option(0.1, "share of judged JDs held out for validation", FRACTION)
    preference_test_fraction: float = option(0.2, "share of judged JDs held out for the alignment test", FRACTION)
    preference_split_seed: int = option(0, "seed of the preference split (fixed apart from seed)", Num(integer=True))
    min_confidence: float | None = option(None, "train only on pairs judged with at least this confidence (0-100)",
                                          Num(low=0, high=100, nullable=True), example="50")
    group_pairs_by_query: bool = option(True, "batch the pairs of one JD together (each JD encoded once)")
    synthetic: SyntheticData | None = option(None, "the synthetic dataset to generate (the synthetic presets)",
                                             schema=SyntheticData)
    dir: str | None = option(None, "the synthetic dataset's folder (the synthetic presets)")
