"""Corpus embeddings on disk as numbered shards: one ``.npy`` per shard, read back memory-mapped.

Layout of a shard folder::

    manifest.json         key (model | texts | settings), count, dim, shard_size, and per finished shard
                          its rows, file and sha256; rewritten atomically
    shard-00000.npy       float32 [rows of the shard, dim], written atomically
    shard-00000.json      the shard's record (rows, sha256), written after its ``.npy``: the shard is done

Shard ``k`` holds rows ``[k * shard_size, min((k + 1) * shard_size, count))``. A shard is either absent or
complete (temporary file, then rename), so a run killed part-way leaves finished shards that a rerun with
the same key keeps, encoding only the missing ones. Processes of one DDP run write disjoint shards and
their own records; one process then rewrites the manifest from the records (:meth:`ShardedEmbeddings.commit`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jobmatch.utils.digest import file_sha256
from jobmatch.utils.npy_store import save_npy_atomic

MANIFEST = "manifest.json"
FORMAT = "jobmatch-embedding-shards"
VERSION = 1


@dataclass(frozen=True)
class ShardPlan:
    """``count`` rows cut into consecutive shards of ``shard_size`` rows (the last one shorter)."""

    count: int
    shard_size: int

    def __post_init__(self) -> None:
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {self.shard_size}")

    def __len__(self) -> int:
        return math.ceil(self.count / self.shard_size)

    def bounds(self, shard: int) -> tuple[int, int]:
        """(first row, end row) of ``shard``."""
        if not 0 <= shard < len(self):
            raise IndexError(f"shard {shard} of {len(self)}")
        start = shard * self.shard_size
        return start, min(start + self.shard_size, self.count)


def write_json_atomic(path: Path, obj: Any) -> None:
    """``obj`` as JSON at ``path`` through a temporary file of this call's own, renamed into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(obj, indent=1) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ShardedEmbeddings:
    """The embedding shards of one (model, texts, settings) ``key`` in ``directory``."""

    def __init__(self, directory: str | Path, *, key: str, count: int, dim: int, shard_size: int) -> None:
        self.directory = Path(directory)
        self.key, self.dim = key, dim
        self.plan = ShardPlan(count, shard_size)

    def __len__(self) -> int:
        return self.plan.count

    # --- opening --------------------------------------------------------------------------------

    @classmethod
    def resume(cls, directory: str | Path, *, key: str, count: int, dim: int, shard_size: int) -> ShardedEmbeddings:
        """The shards of ``key`` in ``directory``, keeping finished shards of an earlier run with the same key,
        count, dim and shard size; shards of anything else there are deleted."""
        directory = Path(directory)
        shards = cls(directory, key=key, count=count, dim=dim, shard_size=shard_size)
        manifest = directory / MANIFEST
        if manifest.exists():
            try:
                old = json.loads(manifest.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                old = {}
            same = [old.get(k) for k in ("key", "count", "dim", "shard_size")] == [key, count, dim, shard_size]
            if not same:
                shutil.rmtree(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if not manifest.exists():
            shards.commit()
        return shards

    @classmethod
    def open(cls, directory: str | Path, *, verify: bool = False) -> ShardedEmbeddings:
        """Finished shards written before, from their manifest (with ``verify``, every shard's checksum).

        Raises:
            FileNotFoundError: no manifest. ValueError: a shard is missing or corrupt.
        """
        directory = Path(directory)
        obj = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        shards = cls(directory, key=obj["key"], count=obj["count"], dim=obj["dim"], shard_size=obj["shard_size"])
        if not obj.get("complete"):
            raise ValueError(f"{directory}: {len(shards.missing())} of {len(shards.plan)} shards still missing")
        if verify:
            for record in obj["shards"]:
                if file_sha256(directory / record["file"]) != record["sha256"]:
                    raise ValueError(f"{directory / record['file']}: corrupt (checksum differs from {MANIFEST})")
        return shards

    # --- writing --------------------------------------------------------------------------------

    def shard_path(self, shard: int) -> Path:
        return self.directory / f"shard-{shard:05d}.npy"

    def record_path(self, shard: int) -> Path:
        return self.directory / f"shard-{shard:05d}.json"

    def record(self, shard: int) -> dict[str, Any] | None:
        """The finished shard's record, or None when it is not finished."""
        path = self.record_path(shard)
        if not (path.exists() and self.shard_path(shard).exists()):
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    def missing(self) -> list[int]:
        """The shards not finished yet, in order."""
        return [k for k in range(len(self.plan)) if self.record(k) is None]

    def write(self, shard: int, embeddings: np.ndarray, **extra: Any) -> None:
        """Store one shard's [rows, dim] embeddings, then its record (``extra`` goes into the record)."""
        start, stop = self.plan.bounds(shard)
        if embeddings.shape != (stop - start, self.dim):
            raise ValueError(f"shard {shard}: embeddings {embeddings.shape}, expected {(stop - start, self.dim)}")
        path = self.shard_path(shard)
        save_npy_atomic(path, np.ascontiguousarray(embeddings, dtype=np.float32))
        record = {"shard": shard, "start": start, "rows": stop - start, "file": path.name,
                  "sha256": file_sha256(path), **extra}
        write_json_atomic(self.record_path(shard), record)

    def commit(self) -> dict[str, Any]:
        """Rewrite ``manifest.json`` from the finished shards' records (atomically); returns it."""
        records = [r for r in (self.record(k) for k in range(len(self.plan))) if r is not None]
        manifest = {
            "format": FORMAT, "version": VERSION, "key": self.key, "count": self.plan.count, "dim": self.dim,
            "shard_size": self.plan.shard_size, "shards_total": len(self.plan),
            "complete": len(records) == len(self.plan),
            "shards": records,
        }
        write_json_atomic(self.directory / MANIFEST, manifest)
        return manifest

    # --- reading --------------------------------------------------------------------------------

    def shard(self, shard: int) -> np.ndarray:
        """[rows, dim] float32 of one finished shard, memory-mapped."""
        return np.load(self.shard_path(shard), mmap_mode="r")

    def iter_shards(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, [rows, dim] memory-mapped embeddings) of every shard, in row order."""
        for k in range(len(self.plan)):
            yield self.plan.bounds(k)[0], self.shard(k)

    def to_array(self) -> np.ndarray:
        """Every embedding, [count, dim] float32 in row order, in memory."""
        out = np.empty((self.plan.count, self.dim), dtype=np.float32)
        for start, block in self.iter_shards():
            out[start : start + len(block)] = block
        return out

    def extra(self, name: str) -> list[Any]:
        """A value given to :meth:`write` as ``extra``, per finished shard in order."""
        return [r.get(name) for r in (self.record(k) for k in range(len(self.plan))) if r is not None]
