"""The talents a retrieval set ranks: rows of an on-disk text store, addressed by position 0..N-1.

A :class:`Corpus` is what every ranking step (validation, evaluation, mining, annotation, the audit,
BM25) reads texts from. Its texts stay in a memory-mapped :class:`~jobmatch.data.text_store.TextStore`;
consumers read them by position (``texts(positions)``), in slices (``iter_batches``) or as token ids
(``tokens(...)``: an int32 token store built once per tokenizer and limit, cached on disk), never as
one Python list. A corpus is either a whole store (a corpus file: positions are the file's rows) or a
view of some of its rows with ids of its own (the passages of contrastive files without a corpus file,
interned into one store and numbered ``p0, p1, ...`` per retrieval set, as before stores existed).

It is also a read-only ``Mapping`` from id to text, so that small-scale code written against
``{id: text}`` keeps working; ``values()`` and ``items()`` stream in slices.
"""

from __future__ import annotations

import hashlib
from collections.abc import ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from transformers import PreTrainedTokenizerBase

from jobmatch.data.interning import TextInterner
from jobmatch.data.scratch import cache_or_scratch
from jobmatch.data.text_store import TextStore
from jobmatch.data.token_store import TokenSource, TokenStore

ROWS_PER_BATCH = 4096


class RowView:
    """A :class:`~jobmatch.data.token_store.TokenSource` of some rows of another, renumbered 0..M-1."""

    def __init__(self, base: TokenSource, rows: np.ndarray) -> None:
        self.base, self.rows_of_base = base, np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows_of_base)

    def lengths(self) -> np.ndarray:
        return np.asarray(self.base.lengths())[self.rows_of_base]

    def rows(self, rows: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        return self.base.rows(self.rows_of_base[np.asarray(rows, dtype=np.int64)])


class Corpus(Mapping[str, str]):
    """N talents: ids and texts by position, from the rows ``rows`` [N] of a text store (None: all of them).

    Args:
        store: the memory-mapped texts.
        rows: [N] store rows in corpus order; None: the whole store in its order.
        ids: [N] ids; None: the store's ids (of ``rows``).
        cache_dir: where token stores of this corpus are cached (default: the process's scratch folder).
    """

    def __init__(
        self,
        store: TextStore,
        rows: np.ndarray | Sequence[int] | None = None,
        ids: Sequence[str] | None = None,
        *,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.store = store
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        n = len(store) if self.rows is None else len(self.rows)
        if ids is not None and len(ids) != n:
            raise ValueError(f"{len(ids)} ids for {n} corpus rows")
        self._ids = None if ids is None else list(ids)
        self._id_array: pa.Array | None = None
        self._position: dict[str, int] | None = None
        self.cache_dir = cache_or_scratch(cache_dir)

    # --- ids and positions ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.store) if self.rows is None else len(self.rows)

    @property
    def ids(self) -> list[str]:
        """Every id in corpus order."""
        if self._ids is None:
            self._ids = self.store.ids if self.rows is None else [self.store.ids[r] for r in self.rows.tolist()]
        return self._ids

    def positions(self, ids: Sequence[str]) -> np.ndarray:
        """[M] int64 position of each id, -1 where an id is not in the corpus (a hash join in Arrow)."""
        if self._id_array is None:
            self._id_array = pa.array(self.ids, type=pa.string())
        found = pc.index_in(pa.array(list(ids), type=pa.string()), value_set=self._id_array)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)

    def store_rows(self, positions: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """[M] store rows of ``positions`` (default: every position)."""
        positions = np.arange(len(self), dtype=np.int64) if positions is None else np.asarray(positions, np.int64)
        return positions if self.rows is None else self.rows[positions]

    # --- texts ---------------------------------------------------------------------------------

    def texts(self, positions: Sequence[int] | np.ndarray) -> list[str]:
        """The texts at ``positions`` (any order, repeats allowed), read from the store."""
        return self.store.texts(self.store_rows(positions))

    def text(self, position: int) -> str:
        return self.texts([position])[0]

    def byte_lengths(self) -> np.ndarray:
        """[N] UTF-8 bytes of every text (from the store's offsets: no text is read)."""
        lengths = self.store.byte_lengths()
        return lengths if self.rows is None else lengths[self.rows]

    def iter_batches(self, rows_per_batch: int = ROWS_PER_BATCH) -> Iterator[tuple[int, list[str]]]:
        """(first position, texts) of consecutive slices of the corpus, releasing the pages read after each."""
        for start in range(0, len(self), rows_per_batch):
            yield start, self.texts(np.arange(start, min(start + rows_per_batch, len(self))))
            self.store.release()

    def find_texts(self, texts: Iterable[str]) -> dict[str, int]:
        """{text: position} for those of ``texts`` found in the corpus, the last occurrence of a repeated text (as a
        ``{text: id}`` dict built over the corpus holds). A streaming scan that reads only the texts whose byte
        length is that of a wanted text."""
        wanted = {t: len(t.encode()) for t in set(texts)}
        sizes = set(wanted.values())
        lengths = self.byte_lengths()
        candidates = np.flatnonzero(np.isin(lengths, list(sizes)))
        found: dict[str, int] = {}
        for start in range(0, len(candidates), ROWS_PER_BATCH):
            chunk = candidates[start : start + ROWS_PER_BATCH]
            for position, text in zip(chunk.tolist(), self.texts(chunk), strict=True):
                if text in wanted:
                    found[text] = position
        self.store.release()
        return found

    @property
    def fingerprint(self) -> str:
        """The content fingerprint of the corpus: its store's, plus its rows and ids when it is a view."""
        if self.rows is None and self._ids is None:
            return self.store.fingerprint
        digest = hashlib.sha256(self.store.fingerprint.encode())
        digest.update(self.store_rows().tobytes())
        for cid in self.ids:
            digest.update(cid.encode() + b"\0")
        return digest.hexdigest()

    def tokens(
        self, tokenizer: PreTrainedTokenizerBase, *, max_length: int, append_eos: bool = False, progress: bool = False
    ) -> TokenSource:
        """Truncated int32 token ids of every text, in corpus order (the store's token store, cached on disk)."""
        built = TokenStore.build(self.store, tokenizer, max_length=max_length, cache_dir=self.cache_dir,
                                 append_eos=append_eos, progress=progress, desc="tokenise corpus")
        return built if self.rows is None else RowView(built, self.rows)

    # --- Mapping -------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def position(self, cid: str) -> int:
        """The position of one id, -1 when absent (a dict of every id, built on first use: for many ids at once,
        :meth:`positions` needs none)."""
        if self._position is None:
            self._position = {c: i for i, c in enumerate(self.ids)}
        return self._position.get(cid, -1)

    def __getitem__(self, cid: str) -> str:
        position = self.position(cid) if isinstance(cid, str) else -1
        if position < 0:
            raise KeyError(cid)
        return self.text(position)

    def __contains__(self, cid: object) -> bool:
        return isinstance(cid, str) and self.position(cid) >= 0

    def values(self) -> ValuesView[str]:
        """Every text in corpus order, read slice by slice."""
        return _Values(self)

    def items(self) -> ItemsView[str, str]:
        """(id, text) in corpus order, read slice by slice."""
        return _Items(self)

    # --- construction ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, cache_dir: str | Path | None = None, *, progress: bool = False) -> Corpus:
        """The corpus of a corpus JSONL (``{"id", "text"}`` per line; validated), its store built once into
        ``cache_dir``."""
        cache = cache_or_scratch(cache_dir)
        return cls(TextStore.from_jsonl(path, cache, progress=progress), cache_dir=cache)

    @classmethod
    def from_texts(cls, texts: Iterable[str], cache_dir: str | Path | None = None, prefix: str = "p") -> Corpus:
        """The distinct ``texts`` in order of first appearance, with ids ``<prefix>0, <prefix>1, ...`` (interned
        into a store as they stream by)."""
        cache = cache_or_scratch(cache_dir)
        with TextInterner(cache) as interner:  # a failure part-way deletes the unfinished store
            for text in texts:
                interner.add(text)
            store = interner.finish()
        return cls(store, ids=[f"{prefix}{i}" for i in range(len(store))], cache_dir=cache)

    @classmethod
    def from_mapping(cls, corpus: Mapping[str, str], cache_dir: str | Path | None = None) -> Corpus:
        """A corpus of an in-memory ``{id: text}`` (written to a store; repeated texts keep their own ids)."""
        if isinstance(corpus, Corpus):
            return corpus
        cache = cache_or_scratch(cache_dir)
        with TextInterner(cache) as interner:
            rows = [interner.add(text) for text in corpus.values()]
            store = interner.finish()
        return cls(store, rows=rows, ids=list(corpus), cache_dir=cache)


class _Values(ValuesView):
    def __init__(self, corpus: Corpus) -> None:
        super().__init__(corpus)
        self._corpus = corpus

    def __iter__(self) -> Iterator[str]:
        for _, texts in self._corpus.iter_batches():
            yield from texts


class _Items(ItemsView):
    def __init__(self, corpus: Corpus) -> None:
        super().__init__(corpus)
        self._corpus = corpus

    def __iter__(self) -> Iterator[tuple[str, str]]:
        ids = self._corpus.ids
        for start, texts in self._corpus.iter_batches():
            yield from zip(ids[start : start + len(texts)], texts, strict=True)
