"""Encode a corpus into embedding shards with Lightning's predict loop: streaming, resumable, distributed.

One predict "batch" is one shard: its texts are read from the memory-mapped text store (a slice of rows,
never the whole corpus), tokenised with truncation, encoded in length-sorted mini-batches and written as
``shard-NNNNN.npy`` by a :class:`~lightning.pytorch.callbacks.BasePredictionWriter`. Shards already on disk
from an earlier run with the same key are skipped without reading their texts, so a run killed part-way
resumes where it stopped. Under ``trainer=ddp`` (or SLURM) Lightning's predict sampler gives each process
its own shards; nothing is gathered, every process writes what it encoded.

    shards = encode_to_shards(encoder, store, "cache/emb", key="model|texts|128", max_length=128)
    shards.to_array()  # [N, D], or shards.iter_shards() to stream them
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader, Dataset
from transformers import PreTrainedTokenizerBase

from jobmatch.data.corpus import Corpus
from jobmatch.data.text_store import TextStore
from jobmatch.data.token_store import TokenList
from jobmatch.model import TextEncoder
from jobmatch.model.tokenizer import tokenize
from jobmatch.retrieval.encode import encode_tokens, model_fingerprint
from jobmatch.retrieval.shards import ShardedEmbeddings

log = logging.getLogger(__name__)

SHARD_SIZE = 16_384  # rows per shard: ~25 MB of d=384 embeddings, a few minutes of CPU encoding at most
TEXTS_PER_READ = 1024  # texts decoded and tokenised at a time (~15 MB of real-length profiles)


def tokenize_counting(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], *, max_length: int, append_eos: bool = False
) -> tuple[list[list[int]], int]:
    """Token ids of ``texts`` truncated to ``max_length``, and how many texts were longer than that.

    Tokenised once with one token of room (a text that fills it is too long), and the too-long ones again
    at the limit, so that their truncated ids end as the tokenizer ends a sequence.
    """
    ids = tokenize(tokenizer, texts, max_length=max_length + 1, append_eos=append_eos)
    over = [i for i, seq in enumerate(ids) if len(seq) > max_length]
    if over:
        cut = tokenize(tokenizer, [texts[i] for i in over], max_length=max_length, append_eos=append_eos)
        for i, seq in zip(over, cut, strict=True):
            ids[i] = seq
    return ids, len(over)


@dataclass
class ShardItem:
    """One predict batch: a shard's index and the int32 token ids of its rows (None when the shard is on disk)."""

    shard: int
    ids: list[np.ndarray] | None = None
    over_length: int = 0


class ShardTexts(Dataset):
    """Item ``k``: shard ``k``'s rows of a text store, tokenised (or a skip marker for a finished shard).

    Holds the store's path (and the corpus's store rows), not the open store, so that it pickles for
    spawned processes and DataLoader workers; each process maps the store on first use.
    """

    def __init__(self, store_path: str | Path, rows: np.ndarray | None, shards: ShardedEmbeddings,
                 tokenizer: PreTrainedTokenizerBase, *, max_length: int, append_eos: bool) -> None:
        self.store_path, self.rows = str(store_path), rows
        self.shards, self.tokenizer = shards, tokenizer
        self.max_length, self.append_eos = max_length, append_eos
        self._store: TextStore | None = None

    def __len__(self) -> int:
        return len(self.shards.plan)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_store": None}

    def __getitem__(self, shard: int) -> ShardItem:
        if self.shards.record(shard) is not None:
            return ShardItem(shard)
        if self._store is None:
            self._store = TextStore(self.store_path)
        start, stop = self.shards.plan.bounds(shard)
        ids: list[np.ndarray] = []
        over = 0
        for first in range(start, stop, TEXTS_PER_READ):  # a slice of texts in memory at a time, ids kept as int32
            last = min(first + TEXTS_PER_READ, stop)
            if self.rows is None:
                texts = self._store._table.column("text").slice(first, last - first).to_pylist()
            else:
                texts = self._store.texts(self.rows[first:last])
            chunk, n_over = tokenize_counting(self.tokenizer, texts, max_length=self.max_length,
                                              append_eos=self.append_eos)
            ids += [np.asarray(seq, dtype=np.int32) for seq in chunk]
            over += n_over
            self._store.release()
        return ShardItem(shard, ids, over)


def _only(items: list[ShardItem]) -> ShardItem:
    """The one shard of a batch of one (a batch sampler lets Lightning's predict loop track the indices)."""
    return items[0]


class ShardData(L.LightningDataModule):
    """The shards of one encoding run; ``prepare_data`` (one process) clears shards of another key."""

    def __init__(self, dataset: ShardTexts) -> None:
        super().__init__()
        self.dataset = dataset
        self.prepare_data_per_node = False  # one process for the run: the folder may be shared by the nodes

    def prepare_data(self) -> None:
        s = self.dataset.shards
        ShardedEmbeddings.resume(s.directory, key=s.key, count=len(s), dim=s.dim, shard_size=s.plan.shard_size)

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=1, shuffle=False, collate_fn=_only)


class ShardEncoder(L.LightningModule):
    """The encoder under Lightning's predict loop: ``predict_step`` embeds one shard → [rows, D] float32."""

    def __init__(self, encoder: TextEncoder, *, batch_size: int = 64, bf16: bool = False) -> None:
        super().__init__()
        self.encoder, self.batch_size, self.bf16 = encoder, batch_size, bf16
        self.encoded_shards: list[int] = []  # shards this process encoded in this run

    def predict_step(self, batch: ShardItem, batch_idx: int) -> tuple[ShardItem, np.ndarray | None]:
        if batch.ids is None:
            return batch, None
        self.encoded_shards.append(batch.shard)
        emb = encode_tokens(self.encoder, TokenList(batch.ids), batch_size=self.batch_size, bf16=self.bf16,
                            device=self.device, progress=False)  # [rows, D]
        return batch, emb


class ShardWriter(BasePredictionWriter):
    """Writes each encoded shard and its record, then refreshes the manifest; at the end of the loop one
    process writes the final manifest once every process has finished."""

    def __init__(self, shards: ShardedEmbeddings) -> None:
        super().__init__(write_interval="batch")
        self.shards = shards

    def write_on_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, prediction: Any,
                           batch_indices: Any, batch: Any, batch_idx: int, dataloader_idx: int) -> None:
        item, emb = prediction
        if emb is not None:
            self.shards.write(item.shard, emb, over_length=item.over_length)
            self.shards.commit()

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.strategy.barrier("shards written")
        if trainer.is_global_zero:
            self.shards.commit()
        trainer.strategy.barrier("shard manifest written")


def default_trainer(device: torch.device | str | None = None, *, progress: bool = True) -> L.Trainer:
    """A one-device predict trainer on ``device`` (default: CPU)."""
    device = torch.device(device or "cpu")
    devices: Any = [device.index] if device.type == "cuda" and device.index is not None else 1
    return L.Trainer(accelerator="gpu" if device.type == "cuda" else device.type, devices=devices, logger=False,
                     enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=progress)


def encode_to_shards(
    encoder: TextEncoder,
    store: TextStore,
    directory: str | Path,
    *,
    key: str,
    max_length: int,
    rows: np.ndarray | None = None,
    shard_size: int = SHARD_SIZE,
    batch_size: int = 64,
    bf16: bool = False,
    trainer: L.Trainer | Mapping[str, Any] | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> ShardedEmbeddings:
    """Embed the texts of ``store`` (or its ``rows`` [N], in that order) into shards in ``directory``.

    Shards finished by an earlier run with the same ``key`` (model, texts and settings: the caller's
    fingerprint) are kept; only the missing ones are encoded. ``trainer`` is a Lightning Trainer (or its
    keyword arguments) for the predict loop, e.g. ``strategy="ddp", devices=2``; default: one ``device``.

    Returns:
        The complete shards, [N, D] float32 in row order, memory-mapped.
    """
    count = len(store) if rows is None else len(rows)
    shards = ShardedEmbeddings(directory, key=key, count=count, dim=encoder.embedding_dim, shard_size=shard_size)
    append_eos = bool(encoder.cfg.get("append_eos", False))
    dataset = ShardTexts(store.path, None if rows is None else np.asarray(rows, dtype=np.int64), shards,
                         encoder.tokenizer, max_length=max_length, append_eos=append_eos)
    if trainer is None:
        trainer = default_trainer(device, progress=progress)
    elif isinstance(trainer, Mapping):
        trainer = L.Trainer(**{"logger": False, "enable_checkpointing": False, "enable_model_summary": False,
                               "enable_progress_bar": progress, **trainer})
    trainer.callbacks.append(ShardWriter(shards))
    module = ShardEncoder(encoder, batch_size=batch_size, bf16=bf16)
    trainer.predict(module, datamodule=ShardData(dataset), return_predictions=False)
    log.info("encoded %d of %d shards into %s (rank %d)", len(module.encoded_shards), len(shards.plan), directory,
             trainer.global_rank)
    return ShardedEmbeddings.open(directory)


def encode_corpus_shards(
    encoder: TextEncoder,
    corpus: Corpus,
    directory: str | Path,
    *,
    max_length: int,
    model_fp: str | None = None,
    bf16: bool = False,
    **kwargs: Any,
) -> ShardedEmbeddings:
    """:func:`encode_to_shards` of every talent of ``corpus`` in corpus order (a view's rows of its store), keyed
    by the model, the corpus fingerprint and the settings as :func:`~jobmatch.retrieval.encode.encode_corpus`'s
    cache is; ``kwargs`` go to :func:`encode_to_shards` (``trainer``, ``shard_size``, ``batch_size``, ...)."""
    key = f"{model_fp or model_fingerprint(encoder)}|{corpus.fingerprint[:16]}|{max_length}|{bf16}"
    return encode_to_shards(encoder, corpus.store, directory, key=key, max_length=max_length, rows=corpus.rows,
                            bf16=bf16, **kwargs)
