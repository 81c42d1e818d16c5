"""One LightningDataModule for JD/talent data, shared by both stages."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import DataLoader

from jobmatch.data.collate import ContrastiveCollator
from jobmatch.data.corpus import Corpus
from jobmatch.data.datasets import ContrastiveDataset, EpochSampler, GroupedEpochSampler, TextTable
from jobmatch.data.duplicates import query_groups, warn_duplicates, warn_overlap
from jobmatch.data.preferences import PreferenceCollator, PreferenceDataset, PreferenceSplits, load_preference_splits
from jobmatch.data.readers import read_contrastive
from jobmatch.data.records import ContrastiveRecord, PreferenceRecord
from jobmatch.data.retrieval_set import RetrievalSet, build_retrieval_set, open_corpus
from jobmatch.data.scratch import cache_or_scratch
from jobmatch.model.tokenizer import load_tokenizer, tokenize

log = logging.getLogger(__name__)


def split_holdout(
    records: Sequence[ContrastiveRecord], fraction: float, seed: int
) -> tuple[list[ContrastiveRecord], list[ContrastiveRecord]]:
    """Seeded split of ``records`` into (train, held-out) by unique query, so that all rows of a JD land
    on one side; ``fraction`` of the unique queries are held out (≥ 1 when fraction > 0)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"data.val_fraction must be in [0, 1), got {fraction}")
    groups = query_groups(records)  # without duplicate queries: one row each, the row split as before
    n_val = 0 if fraction == 0 or len(groups) < 2 else max(1, round(fraction * len(groups)))
    order = np.random.default_rng(seed).permutation(len(groups))
    held = {i for g in order[:n_val].tolist() for i in groups[g]}
    return ([r for i, r in enumerate(records) if i not in held], [r for i, r in enumerate(records) if i in held])


class PairDataModule(L.LightningDataModule):
    """JD/talent pairs for the contrastive stage, or judged preference pairs for stage 2 (``mode``).

    Texts are tokenised once per run into :class:`TextTable` s (unique texts only); collators pad
    per batch. All arguments are primitives, so the DataModule's hyperparameters are saved as-is.

    Args:
        model: the model config (for the tokenizer, padding side and ``append_eos``).
        train_file: contrastive JSONL for training.
        val_file: contrastive JSONL for validation; when absent, ``val_fraction`` of the training
            queries are held out.
        n_negatives: negatives drawn per query and epoch (each line needs at least this many).
        batch_size: queries per training batch (per device).
        on_error: ``raise`` on the first bad line, or ``skip`` bad lines with a count.
        mode: ``contrastive`` (stage 1) or ``preference`` (stage 2: batches of judged pairs; the
            contrastive files then only provide the retrieval validation set, when given).
        preference_train_file: judged pairs (``{query, passage1, passage2, preferred, ...}``).
        preference_val_file, preference_test_file: their own files, or, when absent, JDs held out
            of the training pairs (``preference_val_fraction``, ``preference_test_fraction``,
            seeded by ``preference_split_seed``, independent of the run's seed).
        min_confidence: keep only training pairs judged with at least this confidence (0-100).
        group_pairs_by_query: stage 2: batch the judged pairs of one JD together (seeded order per
            epoch, every pair once), so that each JD is encoded once for all its pairs in the batch.
        unique_texts: encode each distinct text of a batch once and gather (same loss and gradients);
            false: one row per slot (the previous path, kept for benchmarks).
        cache_dir: where the corpus's text store and the token stores are cached (the tasks pass
            ``paths.cache_dir``; None: a scratch folder removed when the process exits).
    """

    def __init__(
        self,
        model: Mapping[str, Any],
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        test_ood_file: str | None = None,
        corpus_file: str | None = None,
        val_fraction: float = 0.1,
        n_negatives: int = 5,
        batch_size: int = 8,
        eval_batch_size: int = 32,
        max_query_length: int = 256,
        max_passage_length: int = 256,
        num_workers: int = 0,
        pad_to_multiple_of: int = 8,
        seed: int = 0,
        on_error: str = "raise",
        mode: str = "contrastive",
        preference_train_file: str | None = None,
        preference_val_file: str | None = None,
        preference_test_file: str | None = None,
        preference_val_fraction: float = 0.1,
        preference_test_fraction: float = 0.2,
        preference_split_seed: int = 0,
        min_confidence: float | None = None,
        group_pairs_by_query: bool = True,
        unique_texts: bool = True,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.model_cfg = dict(model)
        self.train_file, self.val_file, self.val_fraction = train_file, val_file, val_fraction
        self.test_file, self.corpus_file = test_file, corpus_file
        self.test_ood_file = test_ood_file
        self.n_negatives, self.batch_size, self.eval_batch_size = n_negatives, batch_size, eval_batch_size
        self.max_query_length, self.max_passage_length = max_query_length, max_passage_length
        self.num_workers, self.pad_to_multiple_of = num_workers, pad_to_multiple_of
        self.seed, self.on_error = seed, on_error
        self.tokenizer = load_tokenizer(self.model_cfg)
        self.queries, self.passages = TextTable(), TextTable()
        self.train_set: ContrastiveDataset | PreferenceDataset | None = None
        self.val_set: ContrastiveDataset | PreferenceDataset | None = None
        self.val_retrieval: RetrievalSet | None = None
        self._train_records: list[ContrastiveRecord] = []
        if mode not in ("contrastive", "preference"):
            raise ValueError(f"mode='{mode}' is not one of contrastive, preference")
        self.mode = mode
        self.preference_files = (preference_train_file, preference_val_file, preference_test_file)
        self.preference_split = {"val_fraction": preference_val_fraction, "test_fraction": preference_test_fraction,
                                 "seed": preference_split_seed, "min_confidence": min_confidence}
        self.preferences: PreferenceSplits | None = None
        self.group_pairs_by_query, self.unique_texts = group_pairs_by_query, unique_texts
        self.cache_dir = cache_or_scratch(cache_dir)
        self._corpus: Corpus | None = None

    def _read(self, path: str) -> list[ContrastiveRecord]:
        return read_contrastive(path, min_negatives=self.n_negatives, on_error=self.on_error)  # type: ignore[arg-type]

    def setup(self, stage: str | None = None) -> None:
        """Read, validate and tokenise the files (once; later calls are no-ops)."""
        if self.train_set is not None:
            return
        if self.mode == "preference":
            self._setup_preferences()
            return
        if not self.train_file:
            raise ValueError("data.train_file is not set: pass data.train_file=PATH or pick a data preset")
        train = self._read(self.train_file)
        warn_duplicates(train, self.train_file)
        if self.val_file:
            val = self._read(self.val_file)
            warn_overlap(train, val, self.val_file)
        else:
            train, val = split_holdout(train, self.val_fraction, self.seed)
        kwargs = {"n_negatives": self.n_negatives, "seed": self.seed}
        self.train_set = ContrastiveDataset(train, self.queries, self.passages, **kwargs)
        self.val_set = ContrastiveDataset(val, self.queries, self.passages, **kwargs) if val else None
        self._train_records = train
        if val:
            self.val_retrieval = self.retrieval_set(val, self.val_file or self.train_file)
        self._tokenize_tables()
        log.info("data: %d train / %d val queries, %d unique passages",
                 len(train), len(val), len(self.passages))

    def _setup_preferences(self) -> None:
        """Judged pairs for training and evaluation; the contrastive validation split for retrieval."""
        train_file, val_file, test_file = self.preference_files
        if not train_file:
            raise ValueError("data.preference_train_file is not set: pass data.preference_train_file=PATH "
                             "(judged pairs from `python -m jobmatch.annotate`)")
        self.preferences = load_preference_splits(
            train_file, val_file, test_file, on_error=self.on_error, **self.preference_split  # type: ignore[arg-type]
        )
        sets, first = [], 0
        for records in (self.preferences.train, self.preferences.val):
            sets.append(PreferenceDataset(records, self.queries, self.passages, first_index=first) if records else None)
            first += len(records)
        self.train_set, self.val_set = sets
        if self.val_file or self.train_file:  # the stage-1 validation split, for val/ndcg@k
            train = self._read(self.train_file) if self.train_file else []
            val = self._read(self.val_file) if self.val_file else split_holdout(train, self.val_fraction, self.seed)[1]
            self._train_records = train
            self.val_retrieval = self.retrieval_set(val, self.val_file or self.train_file) if val else None
        self._tokenize_tables()

    def preference_records(self) -> list[PreferenceRecord]:
        """Every judged pair in global index order (train, val, test): ``PreferenceBatch.index`` indexes it."""
        assert self.preferences is not None, "call setup() in preference mode first"
        return self.preferences.all()

    def retrieval_set(self, records: list[ContrastiveRecord], source: str | None = None) -> RetrievalSet:
        """Queries and qrels of ``records`` (read from ``source``) against ``corpus_file`` (or, without one,
        every passage seen)."""
        if self.corpus_file and self._corpus is None:  # read once, shared by every split
            self._corpus = open_corpus(self.corpus_file, self.cache_dir)
        return build_retrieval_set(records, self._corpus, extra_passages=self._train_records, cache_dir=self.cache_dir,
                                   source=source, corpus_file=self.corpus_file)

    def test_retrieval(self) -> RetrievalSet:
        """The evaluation set of ``test_file`` (falling back to ``val_file``)."""
        path = self.test_file or self.val_file
        if not path:
            raise ValueError("no evaluation split: set data.test_file (or data.val_file)")
        if self.train_file and not self._train_records and not self.corpus_file:
            self._train_records = self._read(self.train_file)
        return self.retrieval_set(read_contrastive(path, on_error=self.on_error), path)  # type: ignore[arg-type]

    def test_ood_retrieval(self) -> RetrievalSet | None:
        """The evaluation set of ``test_ood_file`` (an out-of-distribution test split), or None without one."""
        if not self.test_ood_file:
            return None
        self.test_retrieval()  # reads the training records a corpus-less set needs
        records = read_contrastive(self.test_ood_file, on_error=self.on_error)  # type: ignore[arg-type]
        return self.retrieval_set(records, self.test_ood_file)

    def _tokenize_tables(self) -> None:
        eos = bool(self.model_cfg.get("append_eos", False))
        for table, limit in ((self.queries, self.max_query_length), (self.passages, self.max_passage_length)):
            new = table.texts[len(table.ids):]
            if new:
                table.ids.extend(tokenize(self.tokenizer, new, max_length=limit, append_eos=eos))

    def _collator(self) -> ContrastiveCollator | PreferenceCollator:
        if self.mode == "preference":
            return PreferenceCollator(self.tokenizer.pad_token_id, self.tokenizer.padding_side, self.pad_to_multiple_of,
                                      unique=self.unique_texts)
        return ContrastiveCollator(self.tokenizer.pad_token_id, self.tokenizer.padding_side, self.pad_to_multiple_of,
                                   unique=self.unique_texts)

    def _loader(self, dataset: ContrastiveDataset | PreferenceDataset, *, shuffle: bool, batch_size: int) -> DataLoader:
        trainer = self.trainer
        replicas = trainer.world_size if trainer is not None else 1
        rank = trainer.global_rank if trainer is not None else 0
        kwargs = {"num_replicas": replicas, "rank": rank, "shuffle": shuffle, "seed": self.seed,
                  "fixed_epoch": None if shuffle else 0}
        if isinstance(dataset, PreferenceDataset) and self.group_pairs_by_query:
            groups = dataset.rows[:, 0].tolist()  # the JD (query row) of every pair
            sampler = GroupedEpochSampler(dataset, groups=groups, batch_size=batch_size, **kwargs)
        else:
            sampler = EpochSampler(dataset, **kwargs)
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            collate_fn=self._collator(),
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "call setup() first"
        return self._loader(self.train_set, shuffle=True, batch_size=self.batch_size)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None:
            return []
        return self._loader(self.val_set, shuffle=False, batch_size=self.eval_batch_size)
