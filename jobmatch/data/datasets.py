"""Map-style datasets over token stores (texts by row), and the epoch-aware samplers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Dataset, DistributedSampler

from jobmatch.data.records import ContrastiveRow
from jobmatch.data.token_store import TokenSource


class ContrastiveDataset(Dataset):
    """Per-epoch sampling of 1 positive and n negatives per query, deterministic under a seed.

    Rows refer to texts by row (:class:`~jobmatch.data.records.ContrastiveRow`); items read their int32 token
    ids from ``queries`` and ``passages`` (token stores, memory-mapped). Items are addressed by
    ``(index, epoch)``, as :class:`EpochSampler` yields them, so that the draw depends only on
    (seed, epoch, index): the same under any number of workers, devices or a resumed run.
    """

    def __init__(
        self,
        rows: Sequence[ContrastiveRow],
        queries: TokenSource,
        passages: TokenSource,
        *,
        n_negatives: int,
        seed: int,
    ) -> None:
        self.n_negatives = n_negatives
        self.seed = seed
        self.query_rows = [r.query for r in rows]
        self.positive_rows = [r.positives for r in rows]
        self.negative_rows = [r.negatives for r in rows]
        self.queries, self.passages = queries, passages

    def __len__(self) -> int:
        return len(self.query_rows)

    def sample(self, index: int, epoch: int) -> tuple[int, list[int]]:
        """Rows of the query and of its passage group (positive first) for this epoch."""
        rng = np.random.default_rng((self.seed, epoch, index))
        positives, negatives = self.positive_rows[index], self.negative_rows[index]
        group = [positives[int(rng.integers(len(positives)))]]
        if self.n_negatives:
            picks = rng.choice(len(negatives), size=self.n_negatives, replace=False)
            group += [negatives[int(i)] for i in picks]
        return self.query_rows[index], group

    def __getitem__(self, key: tuple[int, int]) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """(query ids, the group's passage ids, ids of every known positive: the loss masks their copies); int32."""
        index, epoch = key
        query, group = self.sample(index, epoch)
        return self.queries.rows([query])[0], self.passages.rows(group), self.passages.rows(self.positive_rows[index])


class EpochSampler(DistributedSampler):
    """A seeded (shuffling) sampler that yields ``(index, epoch)`` and shards across devices.

    Being a ``DistributedSampler``, Lightning calls ``set_epoch`` on it every epoch and leaves it
    in place under DDP, so the order is a function of (seed, epoch) alone and resumes exactly.
    """

    def __init__(self, *args: object, fixed_epoch: int | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fixed_epoch = fixed_epoch  # evaluation pins one draw for every epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        epoch = self.epoch if self.fixed_epoch is None else self.fixed_epoch
        for index in super().__iter__():
            yield index, epoch


class GroupedEpochSampler(EpochSampler):
    """An :class:`EpochSampler` that keeps the items of one group (the pairs of one JD) together.

    Each epoch, the groups are shuffled, and the items within each group, with a generator seeded by
    (seed, epoch); the concatenation is cut into batches of ``batch_size``, so that a batch holds the
    pairs of few JDs and encodes each JD (and each repeated talent) once. Without ``shuffle`` the
    groups come in order of first appearance. Every item is yielded exactly once per epoch on one
    device; across W devices whole batches are dealt round-robin, the last ones padded with the first
    items (as ``DistributedSampler`` pads) so that every device gets as many.

    Args:
        groups: [N] the group of every item of the dataset.
        batch_size: items per batch and device (the DataLoader's).
    """

    def __init__(self, *args: object, groups: Sequence[int], batch_size: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if len(groups) != len(self.dataset):  # type: ignore[arg-type]
            raise ValueError(f"{len(groups)} group keys for {len(self.dataset)} items")  # type: ignore[arg-type]
        self.groups = np.asarray(groups)
        self.batch_size = batch_size
        batches = -(-len(self.groups) // batch_size)
        self.num_samples = len(self.groups) if self.num_replicas == 1 else -(-batches // self.num_replicas) * batch_size
        self.total_size = self.num_samples * self.num_replicas

    def order(self, epoch: int) -> list[int]:
        """All N item indices, grouped, in this epoch's order."""
        by_group: dict[int, list[int]] = {}
        for index, group in enumerate(self.groups.tolist()):
            by_group.setdefault(group, []).append(index)
        members = [np.asarray(m) for m in by_group.values()]  # in order of first appearance
        if self.shuffle:
            rng = np.random.default_rng((self.seed, epoch))
            members = [members[i] for i in rng.permutation(len(members))]
            members = [rng.permutation(m) for m in members]
        return np.concatenate(members).tolist() if members else []

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        epoch = self.epoch if self.fixed_epoch is None else self.fixed_epoch
        order = self.order(epoch)
        if self.num_replicas > 1:
            order += (order * (-(-self.total_size // max(len(order), 1))))[: self.total_size - len(order)]
            batches = [order[i : i + self.batch_size] for i in range(0, self.total_size, self.batch_size)]
            order = [i for batch in batches[self.rank :: self.num_replicas] for i in batch]
        for index in order:
            yield index, epoch

    def __len__(self) -> int:
        return self.num_samples
