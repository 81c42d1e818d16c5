"""One LightningDataModule for JD/talent data, shared by both stages."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import lightning as L
import numpy as np
from torch.utils.data import DataLoader

from jobmatch.data.collate import ContrastiveCollator
from jobmatch.data.corpus import Corpus
from jobmatch.data.datasets import ContrastiveDataset, EpochSampler, GroupedEpochSampler
from jobmatch.data.duplicates import query_groups, warn_duplicates, warn_overlap
from jobmatch.data.interning import TextInterner
from jobmatch.data.pair_rows import (
    JoinedTokens,
    PassageSpace,
    first_appearance,
    iter_texts,
    read_rows,
    retrieval_set_from_rows,
)
from jobmatch.data.preferences import (
    PreferenceCollator,
    PreferenceDataset,
    PreferenceSplits,
    load_preference_splits,
    preference_rows,
)
from jobmatch.data.readers import read_contrastive
from jobmatch.data.records import ContrastiveRecord, ContrastiveRow, PreferenceRecord
from jobmatch.data.retrieval_set import RetrievalSet, build_retrieval_set, open_corpus
from jobmatch.data.scratch import cache_or_scratch
from jobmatch.data.text_store import TextStore
from jobmatch.data.token_store import TokenSource, TokenStore
from jobmatch.errors import OptionError
from jobmatch.model.tokenizer import load_tokenizer

log = logging.getLogger(__name__)
R = TypeVar("R", ContrastiveRecord, ContrastiveRow)


def split_holdout(records: Sequence[R], fraction: float, seed: int) -> tuple[list[R], list[R]]:
    """Seeded split of ``records`` into (train, held-out) by unique query, so that all rows of a JD land
    on one side; ``fraction`` of the unique queries are held out (≥ 1 when fraction > 0)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    groups = query_groups(records)  # without duplicate queries: one row each, the row split as before
    n_val = 0 if fraction == 0 or len(groups) < 2 else max(1, round(fraction * len(groups)))
    order = np.random.default_rng(seed).permutation(len(groups))
    held = {i for g in order[:n_val].tolist() for i in groups[g]}
    return ([r for i, r in enumerate(records) if i not in held], [r for i, r in enumerate(records) if i in held])


class PairDataModule(L.LightningDataModule):
    """JD/talent pairs for the contrastive stage, or judged preference pairs for stage 2 (``mode``).

    No text is held in memory: each distinct JD and talent text of the files is written once to a text store
    on disk (a corpus file's talents are its store's rows; id rows name them), rows refer to texts by row,
    and token ids (int32, truncated) come from token stores built once per (texts, tokenizer, limit) and
    cached in ``cache_dir``; collators pad per batch. All arguments are primitives, so the DataModule's
    hyperparameters are saved as-is.

    Args:
        model: the model config (for the tokenizer, padding side and ``append_eos``).
        train_file: contrastive JSONL for training: text rows (``{query, positives, negatives}``) or id rows
            (``{query, positive_ids, negative_ids}``, talents of ``corpus_file``).
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
        cache_dir: where the corpus's text store and the token stores are cached (the tasks pass
            ``paths.cache_dir``; None: a scratch folder removed when the process exits).
        write_texts: read by the tasks that write files (mined rounds): talents by corpus id (False) or texts
            inline (the reference format); the DataModule reads both kinds of rows either way.
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
        cache_dir: str | None = None,
        write_texts: bool = False,
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
        self._queries: TextInterner | None = None
        self.passages: PassageSpace | None = None
        self.query_store: TextStore | None = None
        self.query_tokens: TokenSource | None = None
        self.passage_tokens: TokenSource | None = None
        self.train_set: ContrastiveDataset | PreferenceDataset | None = None
        self.val_set: ContrastiveDataset | PreferenceDataset | None = None
        self.val_retrieval: RetrievalSet | None = None
        self._train_rows: list[ContrastiveRow] = []
        self._rows_read: list[ContrastiveRow] = []
        if mode not in ("contrastive", "preference"):
            raise ValueError(f"mode='{mode}' is not one of contrastive, preference")
        self.mode = mode
        self.preference_files = (preference_train_file, preference_val_file, preference_test_file)
        self.preference_split = {"val_fraction": preference_val_fraction, "test_fraction": preference_test_fraction,
                                 "seed": preference_split_seed, "min_confidence": min_confidence}
        self.preferences: PreferenceSplits | None = None
        self.group_pairs_by_query = group_pairs_by_query
        self.cache_dir = cache_or_scratch(cache_dir)
        self.write_texts = write_texts
        self._corpus: Corpus | None = None

    def _spaces(self) -> PassageSpace:
        """The query interner and the passage space (a corpus file's talents, then interned texts), opened once."""
        if self.passages is None:
            if self.corpus_file and self._corpus is None:  # read once, shared by every split
                self._corpus = open_corpus(self.corpus_file, self.cache_dir)
            self._queries = TextInterner(self.cache_dir)
            self.passages = PassageSpace(self._corpus, self.cache_dir)
        return self.passages

    def _read(self, path: str) -> list[ContrastiveRow]:
        assert self._queries is not None
        return read_rows(path, self._queries, self._spaces(), min_negatives=self.n_negatives,
                         on_error=self.on_error)  # type: ignore[arg-type]

    def _finish(self) -> None:
        """Close the text stores and build (or find in the cache) their token stores."""
        passages = self._spaces()
        assert self._queries is not None
        self.query_store, passage_store = self._queries.finish(), passages.finish()
        eos = bool(self.model_cfg.get("append_eos", False))
        build = {"cache_dir": self.cache_dir, "append_eos": eos}
        self.query_tokens = TokenStore.build(self.query_store, self.tokenizer, max_length=self.max_query_length,
                                             desc="tokenise JDs", **build)
        interned = TokenStore.build(passage_store, self.tokenizer, max_length=self.max_passage_length,
                                    desc="tokenise talents", **build)
        corpus_tokens = None
        if passages.corpus is not None and self._uses_corpus_rows():
            corpus_tokens = passages.corpus.tokens(self.tokenizer, max_length=self.max_passage_length, append_eos=eos)
        self.passage_tokens = JoinedTokens(corpus_tokens, interned, passages.offset)

    def _uses_corpus_rows(self) -> bool:
        offset = self._spaces().offset
        return any(t < offset for r in self._rows_read for t in (*r.positives, *r.negatives))

    def _discard_unfinished(self) -> None:
        """After a failed read: delete the unfinished interned stores (their ``texts/interned.*.tmp`` files), so
        that nothing is left in the cache and a later call starts the spaces over."""
        interners = [self._queries, self.passages.interner if self.passages is not None else None]
        if [interner.abort() for interner in interners if interner is not None].count(True):
            self._queries, self.passages = None, None

    def setup(self, stage: str | None = None) -> None:
        """Read and validate the files into text stores, and find or build their token stores (once; later calls
        are no-ops). A file that fails to read leaves no temporary store behind."""
        if self.train_set is not None:
            return
        try:
            if self.mode == "preference":
                self._setup_preferences()
            else:
                self._setup_contrastive()
        except BaseException:
            self._discard_unfinished()
            raise

    def _setup_contrastive(self) -> None:
        """Contrastive rows of the train and validation files (or a held-out part of the training file)."""
        if not self.train_file:
            raise OptionError("{train_file} is not set: pass {train_file}=PATH or pick a data preset")
        self._spaces()
        train = self._read(self.train_file)
        warn_duplicates(train, self.train_file)
        if self.val_file:
            val = self._read(self.val_file)
            warn_overlap(train, val, self.val_file)
        else:
            train, val = split_holdout(train, self.val_fraction, self.seed)
        self._rows_read = [*train, *val]
        self._finish()
        kwargs = {"n_negatives": self.n_negatives, "seed": self.seed}
        self.train_set = ContrastiveDataset(train, self.query_tokens, self.passage_tokens, **kwargs)
        self.val_set = ContrastiveDataset(val, self.query_tokens, self.passage_tokens, **kwargs) if val else None
        self._train_rows = train
        if val:
            self.val_retrieval = retrieval_set_from_rows(val, self.query_store, self._spaces(), extra=train)
        log.info("data: %d train / %d val queries, %d unique JDs, %d talent rows (%d interned)",
                 len(train), len(val), len(self.query_store), len(self._spaces()), len(self._spaces().interner))

    def _setup_preferences(self) -> None:
        """Judged pairs for training and evaluation; the contrastive validation split for retrieval."""
        train_file, val_file, test_file = self.preference_files
        if not train_file:
            raise OptionError("{preference_train_file} is not set: pass {preference_train_file}=PATH "
                              "(judged pairs from `python -m jobmatch.annotate`)")
        passages = self._spaces()  # opens the corpus file: id rows name its talents
        self.preferences = load_preference_splits(
            train_file, val_file, test_file, on_error=self.on_error, corpus=self._corpus,
            **self.preference_split,  # type: ignore[arg-type]
        )
        assert self._queries is not None
        pair_rows = [preference_rows(records, self._queries, passages)
                     for records in (self.preferences.train, self.preferences.val)]
        val: list[ContrastiveRow] = []
        if self.val_file or self.train_file:  # the stage-1 validation split, for val/ndcg@k
            train = self._read(self.train_file) if self.train_file else []
            val = self._read(self.val_file) if self.val_file else split_holdout(train, self.val_fraction, self.seed)[1]
            self._train_rows = train
            self._rows_read = [*train, *val]
        self._finish()
        sets, first = [], 0
        for records, rows in zip((self.preferences.train, self.preferences.val), pair_rows, strict=True):
            sets.append(PreferenceDataset(rows, self.query_tokens, self.passage_tokens, first_index=first)
                        if records else None)
            first += len(records)
        self.train_set, self.val_set = sets
        self.val_retrieval = (retrieval_set_from_rows(val, self.query_store, passages, extra=self._train_rows)
                              if val else None)

    def preference_records(self) -> list[PreferenceRecord]:
        """Every judged pair in global index order (train, val, test): ``PreferenceBatch.index`` indexes it."""
        assert self.preferences is not None, "call setup() in preference mode first"
        return self.preferences.all()

    def retrieval_set(self, records: list[ContrastiveRecord], source: str | None = None) -> RetrievalSet:
        """Queries and qrels of ``records`` (read from ``source``) against ``corpus_file`` (or, without one, every
        passage seen: those of ``records``, then those of the training rows)."""
        if self.corpus_file and self._corpus is None:  # read once, shared by every split
            self._corpus = open_corpus(self.corpus_file, self.cache_dir)
        extra: Iterable[str] = ()
        if self._corpus is None and self._train_rows:
            extra = iter_texts(self._spaces(), first_appearance(self._train_rows))
        return build_retrieval_set(records, self._corpus, extra_texts=extra, cache_dir=self.cache_dir,
                                   source=source, corpus_file=self.corpus_file)

    def test_retrieval(self) -> RetrievalSet:
        """The evaluation set of ``test_file`` (falling back to ``val_file``)."""
        path = self.test_file or self.val_file
        if not path:
            raise OptionError("no evaluation split: set {test_file} (or {val_file})")
        if self.train_file and not self._train_rows and not self.corpus_file and self.passages is None:
            self._spaces()
            try:
                self._train_rows = self._read(self.train_file)
            except BaseException:
                self._discard_unfinished()
                raise
            self._queries.finish()  # type: ignore[union-attr]
            self._spaces().finish()
        return self.retrieval_set(read_contrastive(path, on_error=self.on_error), path)  # type: ignore[arg-type]

    def test_ood_retrieval(self) -> RetrievalSet | None:
        """The evaluation set of ``test_ood_file`` (an out-of-distribution test split), or None without one."""
        if not self.test_ood_file:
            return None
        self.test_retrieval()  # reads the training records a corpus-less set needs
        records = read_contrastive(self.test_ood_file, on_error=self.on_error)  # type: ignore[arg-type]
        return self.retrieval_set(records, self.test_ood_file)

    def _collator(self) -> ContrastiveCollator | PreferenceCollator:
        kind = PreferenceCollator if self.mode == "preference" else ContrastiveCollator
        return kind(self.tokenizer.pad_token_id, self.tokenizer.padding_side, self.pad_to_multiple_of)

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
