"""The frozen reference of RankPO: s_ref(q, w), s_ref(q, l) of the stage-1 model, computed once.

The reference is the policy's own encoder in its starting state: with LoRA, the merged stage-1
weights under the adapter switched off; with full fine-tuning, the weights before the first step.
No second model is kept in memory. Scores for every judged pair (train, val and test) are computed
before training, batched and without gradients, in eval mode (dropout off) and in the training
precision, then cached on disk keyed by a fingerprint of the reference weights and of the data, so
that every run of a sweep from the same stage-1 checkpoint reuses them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from jobmatch.data.records import PreferenceRecord
from jobmatch.model import TextEncoder
from jobmatch.retrieval.encode import texts_fingerprint
from jobmatch.retrieval.encoder_eval import EncodeSettings
from jobmatch.retrieval.preference_eval import pair_similarities
from jobmatch.utils.npy_store import save_npy_atomic

log = logging.getLogger(__name__)

# Parameters of an adapter (LoRA matrices, trainable markup-token rows): not part of the reference.
ADAPTER_MARKERS = ("lora_", "trainable_tokens_delta")


def reference_fingerprint(encoder: TextEncoder) -> str:
    """sha256 over the reference weights: every parameter but the adapter's, plus pooling settings."""
    digest = hashlib.sha256()
    digest.update(f"{encoder.pooling}|{encoder.normalize}".encode())
    for name, tensor in sorted(encoder.state_dict().items()):
        if any(marker in name for marker in ADAPTER_MARKERS):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def reference_pass(encoder: TextEncoder) -> Iterator[None]:
    """Run ``encoder`` as the reference: eval mode (no dropout), no gradients, adapter disabled."""
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad(), encoder.adapter_disabled() if encoder.uses_lora else contextlib.nullcontext():
            yield
    finally:
        encoder.train(was_training)


def compute_reference_scores(
    encoder: TextEncoder, records: Sequence[PreferenceRecord], settings: EncodeSettings
) -> np.ndarray:
    """[P, 2] reference similarities (s_ref(q, w), s_ref(q, l)) of every pair (adapter disabled, eval mode)."""
    with reference_pass(encoder):
        return pair_similarities(encoder, records, settings)


def data_fingerprint(encoder: TextEncoder, records: Sequence[PreferenceRecord], settings: EncodeSettings) -> str:
    """Fingerprint of the pairs in order and of everything that turns them into token ids and scores."""
    texts = [text for r in records for text in (r.query, r.chosen, r.rejected)]
    tokenization = (f"{settings.max_query_length}|{settings.max_passage_length}|{settings.bf16}|"
                    f"{encoder.cfg.get('append_eos', False)}|{encoder.cfg.get('padding_side', 'right')}")
    return texts_fingerprint([*texts, tokenization])


class ReferenceCache:
    """Reference scores on disk as ``<dir>/<reference weights>-<data>.npy`` ([P, 2] float32), written atomically."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, encoder: TextEncoder, records: Sequence[PreferenceRecord], settings: EncodeSettings) -> Path:
        """The file for this reference model and data."""
        return self.directory / f"{reference_fingerprint(encoder)}-{data_fingerprint(encoder, records, settings)}.npy"

    def load_or_compute(
        self, encoder: TextEncoder, records: Sequence[PreferenceRecord], settings: EncodeSettings,
        *, writer: bool = True, barrier: Callable[[], None] | None = None,
    ) -> np.ndarray:
        """Cached :func:`compute_reference_scores`. Under DDP only the ``writer`` computes; the others wait."""
        path = self.path(encoder, records, settings)
        if writer and not path.exists():
            log.info("computing reference scores for %d pairs -> %s", len(records), path)
            save_npy_atomic(path, compute_reference_scores(encoder, records, settings).astype(np.float32),
                            "reference scores")
        if barrier is not None:
            barrier()
        log.info("reference scores from %s", path)
        return np.load(path)


class ReferenceScores(Callback):
    """Before training (``setup``: before any resume restores trained weights), fill the module's
    reference scores from the cache, computing them on the training device and in its precision."""

    def __init__(self, cache: ReferenceCache, settings: EncodeSettings) -> None:
        self.cache, self.settings = cache, settings

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit" or pl_module.hparams.get("reference") != "frozen":
            return
        records = trainer.datamodule.preference_records()  # type: ignore[attr-defined]
        pl_module.to(trainer.strategy.root_device)
        scores = self.cache.load_or_compute(pl_module.encoder, records, self.settings,  # type: ignore[arg-type]
                                            writer=trainer.is_global_zero, barrier=trainer.strategy.barrier)
        pl_module.set_reference_scores(torch.from_numpy(scores))  # type: ignore[operator]
