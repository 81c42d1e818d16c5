"""Build or append to a talent index with an exported model, shard by shard: only talents not yet indexed
are encoded, and a rerun after an interruption encodes only the shards still missing.

The corpus is read into a memory-mapped text store once (streamed, validated line by line), the new
talents are encoded by :func:`~jobmatch.retrieval.shard_encode.encode_to_shards` into ``INDEX/.work``,
the FAISS index is filled one shard at a time, and the talents file of the next generation is streamed
from the previous one and the new rows. No step holds the corpus's texts or tokens in memory.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import torch

from jobmatch.data.readers import DataFormatError
from jobmatch.data.text_store import TextStore, source_key
from jobmatch.retrieval.encode import is_global_zero
from jobmatch.retrieval.search import choose_index_kind, new_index
from jobmatch.retrieval.shard_encode import SHARD_SIZE, encode_to_shards
from jobmatch.retrieval.shards import ShardedEmbeddings
from jobmatch.serving.export_format import load_exported, read_export_manifest
from jobmatch.serving.index_store import (
    MANIFEST_NAME,
    ROWS_PER_BATCH,
    WORK_DIR,
    TalentIndex,
    new_manifest,
    prepare_folder,
    save_generation,
    store_rows,
    utc_now,
)
from jobmatch.serving.talents import is_contrastive, read_talents

log = logging.getLogger(__name__)
IVF_TRAINING_ROWS = 100_000  # k-means sample of an ivf index built shard by shard


@dataclass
class IndexReport:
    """What a build or append did: talents added, already indexed (skipped), total, and timings."""

    added: int
    skipped: int
    total: int
    truncated: int
    encode_s: float
    talents_per_s: float
    load_s: float


def talent_store(corpus: Path, work: Path) -> TextStore:
    """The talents of ``corpus`` as a memory-mapped text store in ``work`` (built once per file version).

    ``{"id", "text"}`` JSONL streams into the store; the reference contrastive format (each distinct
    passage a talent, content ids) is read in memory first, as it is a training file of modest size.

    Raises:
        FileNotFoundError: no such file. DataFormatError: a bad line, or no talents.
    """
    if not corpus.is_file():
        raise FileNotFoundError(f"{corpus}: no such corpus file")
    if is_contrastive(corpus):
        path = work / "texts" / f"{source_key(corpus)}.arrow"
        if path.exists():
            return TextStore(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return TextStore.from_texts([(t.id, t.text) for t in read_talents(corpus)], path)
    store = TextStore.from_jsonl(corpus, work)
    if not len(store):
        raise DataFormatError(corpus, 0, "no talents in file")
    return store


def new_rows(index: TalentIndex, store: TextStore, corpus: Path) -> tuple[np.ndarray, int]:
    """The rows of ``store`` whose ids are not in ``index`` yet, and how many were there with the same text.

    Raises:
        DataFormatError: an id already in the index with a different text (``FILE:LINE``).
    """
    found = index.rows_of(store.ids)  # [N] row in the index, -1 for new ids
    known = np.flatnonzero(found >= 0)
    for start in range(0, len(known), ROWS_PER_BATCH):
        chunk = known[start : start + ROWS_PER_BATCH]
        for row, old, new in zip(chunk.tolist(), index.texts(found[chunk]), store.texts(chunk), strict=True):
            if old != new:
                line = store.lines([row])[0]
                raise DataFormatError(corpus, line, f"duplicate id '{store.ids[row]}': already in the index with a "
                                      "different text (ids must be unique; rebuild with append=false to replace "
                                      "talents)")
    return np.flatnonzero(found < 0), len(known)


def training_sample(shards: ShardedEmbeddings, limit: int = IVF_TRAINING_ROWS, seed: int = 0) -> np.ndarray:
    """[min(N, limit), D] embeddings drawn uniformly (seeded) from the shards, for k-means."""
    n = len(shards)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(n, limit), replace=False))
    parts = []
    for start, block in shards.iter_shards():
        inside = rows[(rows >= start) & (rows < start + len(block))] - start
        parts.append(np.asarray(block[inside]))
    return np.concatenate(parts)


def fill_index(index: faiss.Index, shards: ShardedEmbeddings) -> faiss.Index:
    """Add every shard's embeddings to ``index`` in row order (training an untrained ivf index first)."""
    if not index.is_trained:
        index.train(training_sample(shards))
    for _, block in shards.iter_shards():
        index.add(np.ascontiguousarray(block, dtype=np.float32))
    return index


def index_talents(
    model_dir: str | Path, corpus: str | Path, out: str | Path, *, append: bool = False, kind: str = "auto",
    batch_size: int = 64, bf16: bool = False, device: torch.device | str = "cpu", shard_size: int = SHARD_SIZE,
    trainer: Mapping[str, Any] | None = None,
) -> IndexReport:
    """Embed the talents of ``corpus`` with the export ``model_dir`` into the index ``out``.

    ``append=false`` builds a new index (replacing one at ``out`` only once the new one is complete).
    ``append=true`` loads the index at ``out`` (building it if absent), refuses a different model,
    skips talents already indexed with the same text and encodes only the new ones. Encoding goes
    ``shard_size`` talents at a time into ``out/.work``; a rerun of an interrupted call keeps the shards
    written. ``trainer`` (Lightning Trainer arguments, e.g. ``{"strategy": "ddp", "devices": 2}`` in each
    process a launcher started) spreads the shards over processes; the first process then fills and
    saves the index.
    """
    model_dir, corpus, out = Path(model_dir), Path(corpus), Path(out)
    export = read_export_manifest(model_dir)  # fail fast on bad inputs, before loading the model
    prepare_folder(out)
    work = out / WORK_DIR
    store = talent_store(corpus, work)
    existing: TalentIndex | None = None
    fresh, skipped = np.arange(len(store), dtype=np.int64), 0
    if append and (out / MANIFEST_NAME).exists():
        existing = TalentIndex.load(out)
        existing.check_model(export.model_fingerprint, model_dir, where=str(out))
        fresh, skipped = new_rows(existing, store, corpus)
        if not len(fresh):
            log.info("%s: all %d talents are already in %s; nothing to add", corpus, skipped, out)
            shutil.rmtree(work, ignore_errors=True)
            return IndexReport(0, skipped, len(existing), 0, 0.0, 0.0, 0.0)
    elif append:
        log.info("no index at %s yet: building it", out)
    start = time.perf_counter()
    encoder = load_exported(model_dir, device)
    load_s = time.perf_counter() - start
    whole = len(fresh) == len(store)
    key = "|".join([export.model_fingerprint, store.fingerprint, str(export.max_passage_length), str(bf16),
                    "all" if whole else hashlib.sha256(fresh.tobytes()).hexdigest()[:16]])
    start = time.perf_counter()
    shards = encode_to_shards(encoder, store, work / "embeddings", key=key, max_length=export.max_passage_length,
                              rows=None if whole else fresh, shard_size=shard_size, batch_size=batch_size, bf16=bf16,
                              device=device, trainer=trainer)
    encode_s = time.perf_counter() - start
    if not is_global_zero():  # under a multi-process trainer the other processes only encode their shards
        return IndexReport(0, skipped, 0, 0, encode_s, 0.0, load_s)
    truncated = int(sum(shards.extra("over_length")))
    if truncated:
        log.warning("%d of %d talent profiles exceed max_passage_length=%d tokens and are truncated",
                    truncated, len(fresh), export.max_passage_length)
    total = len(fresh) + (len(existing) if existing else 0)
    if existing is None:
        kind = choose_index_kind(total) if kind == "auto" else kind
        manifest = new_manifest(model_fingerprint=export.model_fingerprint, model_path=str(model_dir.resolve()),
                                max_passage_length=export.max_passage_length, dim=shards.dim, kind=kind)
        index = new_index(kind, shards.dim, total)
    else:
        manifest, index = existing.manifest, existing.index
    fill_index(index, shards)
    manifest.updated = utc_now()
    manifest.sources.append({"file": str(corpus), "added": len(fresh), "time": manifest.updated})
    rows = store_rows(store, None if whole else fresh)
    if existing is not None:
        talents: Any = itertools.chain(store_rows(existing.talents), rows)
    else:
        talents = store if whole else rows  # a whole build's store is the talents file as it stands
    save_generation(out, index, talents, manifest)
    report = IndexReport(len(fresh), skipped, total, truncated, encode_s, len(fresh) / max(encode_s, 1e-9), load_s)
    log.info("indexed %d talents (%d already there) in %.1fs: %.1f talents/s; %s holds %d",
             report.added, skipped, encode_s, report.talents_per_s, out, report.total)
    return report
