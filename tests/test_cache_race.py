"""Concurrent writers of one cache entry: DDP ranks (and parallel runs of a sweep) share the embedding and
reference caches. Every writer must leave a complete file, and no writer may fail."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import lightning as L
import numpy as np
import pytest

from jobmatch.app.builders import build_datamodule, build_module
from jobmatch.retrieval.encode import EmbeddingCache
from jobmatch.retrieval.validation_callback import RetrievalValidation
from jobmatch.utils.atomic import WriteError
from jobmatch.utils.npy_store import save_npy_atomic
from tests.helpers import FAST, compose_config
from tests.helpers.ranks import run_ranks

ROUNDS = 150


def _write_many(path: str, value: float, start, errors) -> None:
    """Write ``ROUNDS`` times the same-shaped array to ``path`` after the other writer is ready."""
    start.wait()
    try:
        for _ in range(ROUNDS):
            save_npy_atomic(Path(path), np.full((256, 256), value, dtype=np.float32))
    except Exception as error:  # reported to the test: the failure it looks for
        errors.put(f"{type(error).__name__}: {error}")


def test_two_processes_write_one_entry_concurrently(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    path = tmp_path / "cache" / "entry.npy"
    start, errors = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_write_many, args=(str(path), v, start, errors)) for v in (1.0, 2.0)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert not found, found[:3]
    stored = np.load(path)
    assert stored.shape == (256, 256) and len(np.unique(stored)) == 1  # one writer's array, whole
    assert sorted(p.name for p in path.parent.iterdir()) == ["entry.npy"]  # no temporary file left behind


def test_a_failed_write_leaves_no_entry_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def half_write(handle, array) -> None:  # an interrupted write: some bytes, then an error (a full disk)
        handle.write(b"\x93NUMPY")
        raise OSError("no space left on device")

    monkeypatch.setattr(np, "save", half_write)
    with pytest.raises(WriteError, match=r"entry\.npy: could not write the cached array \(no space left on device\)"):
        save_npy_atomic(tmp_path / "entry.npy", np.zeros(3))
    assert list(tmp_path.iterdir()) == []


class CountingCache(EmbeddingCache):
    """An embedding cache that records every entry each rank writes (a file per write in ``log_dir``)."""

    def __init__(self, directory: Path, log_dir: Path) -> None:
        super().__init__(directory)
        self.log_dir = log_dir

    def store(self, path: Path, embeddings: np.ndarray) -> None:
        import torch.distributed as dist

        rank = dist.get_rank() if dist.is_initialized() else -1
        (self.log_dir / f"rank{rank}-{path.stem}-{os.getpid()}").touch()
        super().store(path, embeddings)


def _rank(rank: int, port: int, root: str, overrides: list[str], errors) -> None:
    """One of two DDP ranks, started as a cluster launcher would (its rank in the environment): each builds
    its own data, module and validation callback, so nothing is pickled across processes."""
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2", "NODE_RANK": "0",
                       "RANK": str(rank), "LOCAL_RANK": str(rank)})
    try:
        import torch

        torch.set_num_threads(1)
        cfg = compose_config(overrides, run_dir=Path(root) / "run")
        datamodule = build_datamodule(cfg)
        datamodule.setup("fit")
        cache = CountingCache(Path(root) / "emb", Path(root) / "writes")
        validation = RetrievalValidation(datamodule.val_retrieval, cutoffs=(5,), max_query_length=32,
                                         max_passage_length=32, batch_size=8, cache=cache)
        L.seed_everything(0)
        trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=1, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                            num_sanity_val_steps=0, limit_train_batches=1, callbacks=[validation])
        trainer.fit(build_module(cfg), datamodule=datamodule)
    except Exception as error:
        errors.put(f"rank {rank}: {type(error).__name__}: {error}")


@pytest.mark.slow
def test_ddp_validation_writes_each_cache_entry_once(tmp_path: Path) -> None:
    """Two gloo processes with retrieval validation on: rank 0 alone writes the corpus embeddings."""
    overrides = [*FAST, "trainer.max_epochs=1", "data.val_fraction=0.3", "eval.val_cutoffs=[5]"]
    (tmp_path / "writes").mkdir()
    run_ranks(_rank, str(tmp_path), overrides)
    logged = sorted(p.name.split("-")[0] for p in (tmp_path / "writes").iterdir())
    assert logged == ["rank0"], logged  # one writer: rank 0
    entries = list((tmp_path / "emb").iterdir())
    assert len(entries) == 1 and np.load(entries[0]).ndim == 2
