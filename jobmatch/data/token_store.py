"""Token ids of many texts as one flat int32 array plus offsets: built once, cached on disk, memory-mapped.

At 10^6 talents × 512 tokens the ids take 2 GB as int32 (20 GB as Python lists of ints), so they are
written chunk by chunk to ``ids.bin`` (int32) with ``offsets.npy`` (int64 [N + 1]) and read back through
a memory map. A cache entry is keyed by the texts' fingerprint, the tokenizer's fingerprint, the token
limit and the EOS setting; every text is truncated to the limit (:func:`jobmatch.model.tokenizer.tokenize`
never tokenises a whole long text).

:class:`TokenList` holds the same interface in memory, for small sets of texts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from transformers import PreTrainedTokenizerBase

from jobmatch.model.tokenizer import tokenize

FORMAT_VERSION = "1"


class TokenSource(Protocol):
    """Truncated token ids of N texts, addressed by row."""

    def __len__(self) -> int: ...

    def lengths(self) -> np.ndarray:
        """[N] int64 tokens of every row."""
        ...

    def rows(self, rows: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        """The int32 ids of each of ``rows``."""
        ...


class TokenList:
    """A :class:`TokenSource` in memory: one int32 array per text."""

    def __init__(self, ids: Iterable[Sequence[int]]) -> None:
        self._ids = [np.asarray(seq, dtype=np.int32) for seq in ids]

    def __len__(self) -> int:
        return len(self._ids)

    def lengths(self) -> np.ndarray:
        return np.fromiter((len(seq) for seq in self._ids), dtype=np.int64, count=len(self._ids))

    def rows(self, rows: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        return [self._ids[int(r)] for r in rows]

    def extend(self, ids: Iterable[Sequence[int]]) -> None:
        """Append texts' ids (rows continue from ``len(self)``)."""
        self._ids.extend(np.asarray(seq, dtype=np.int32) for seq in ids)


class TokenStore:
    """A :class:`TokenSource` on disk: ``<dir>/ids.bin`` (int32, flat) and ``<dir>/offsets.npy`` (int64 [N + 1])."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.offsets = np.load(self.directory / "offsets.npy", mmap_mode="r")  # [N + 1]
        total = int(self.offsets[-1])
        self.ids = (np.memmap(self.directory / "ids.bin", dtype=np.int32, mode="r", shape=(total,))
                    if total else np.zeros(0, dtype=np.int32))  # [T]
        self.meta = json.loads((self.directory / "meta.json").read_text())

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(np.asarray(self.offsets))

    def rows(self, rows: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        return [np.asarray(self.ids[self.offsets[r] : self.offsets[r + 1]]) for r in np.asarray(rows, dtype=np.int64)]

    @classmethod
    def build(
        cls,
        texts: TextChunks,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_length: int,
        cache_dir: str | Path,
        append_eos: bool = False,
        progress: bool = False,
        desc: str = "tokenise",
    ) -> TokenStore:
        """The token ids of every text of ``texts`` (a store, or anything with ``fingerprint``, ``len`` and
        ``iter_batches``), from ``cache_dir`` when built before with the same tokenizer and limits."""
        key = hashlib.sha256(
            f"{texts.fingerprint}|{tokenizer_fingerprint(tokenizer)}|{max_length}|{append_eos}|{FORMAT_VERSION}".encode()
        ).hexdigest()[:20]
        target = Path(cache_dir) / "tokens" / key
        if (target / "meta.json").exists():
            return cls(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=key + ".", suffix=".tmp", dir=target.parent))
        try:
            offsets = [0]
            with (tmp / "ids.bin").open("wb") as sink:
                for _, chunk in _progress(texts.iter_batches(), progress, desc, len(texts)):
                    for seq in tokenize(tokenizer, chunk, max_length=max_length, append_eos=append_eos):
                        sink.write(np.asarray(seq, dtype=np.int32).tobytes())
                        offsets.append(offsets[-1] + len(seq))
            np.save(tmp / "offsets.npy", np.asarray(offsets, dtype=np.int64))
            meta = {"texts": texts.fingerprint, "max_length": max_length, "append_eos": append_eos,
                    "rows": len(offsets) - 1, "tokens": offsets[-1]}
            (tmp / "meta.json").write_text(json.dumps(meta) + "\n")
            try:
                os.replace(tmp, target)
            except OSError:  # another process built it first: keep theirs
                if not (target / "meta.json").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return cls(target)


class TextChunks(Protocol):
    """What :meth:`TokenStore.build` reads: a content fingerprint and the texts in row order, in slices."""

    fingerprint: str

    def __len__(self) -> int: ...

    def iter_batches(self, rows_per_batch: int = ...) -> Iterable[tuple[int, list[str]]]: ...


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """sha256 of what decides a tokenizer's ids: its class, vocabulary, added tokens, normaliser and pre-/post-
    processing (the backend's JSON without its mutable truncation and padding state; first 16 hex digits)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        spec = json.loads(backend.to_str())
        spec.pop("truncation", None)
        spec.pop("padding", None)
        body = json.dumps(spec, sort_keys=True)
    else:
        body = json.dumps(sorted(tokenizer.get_vocab().items()))
    digest = hashlib.sha256(f"{type(tokenizer).__name__}|{body}".encode())
    return digest.hexdigest()[:16]


def _progress(items: Iterable, enabled: bool, desc: str, total: int) -> Iterable:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="batch", total=-(-total // 4096), leave=False)
