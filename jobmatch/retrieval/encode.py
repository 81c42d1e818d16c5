"""Encode texts with a :class:`TextEncoder`: length-sorted batches, inference mode, optional bf16,
progress bar, and an on-disk cache keyed by model and text fingerprints."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from jobmatch.data.collate import pad_tokens
from jobmatch.model import TextEncoder
from jobmatch.model.tokenizer import tokenize
from jobmatch.utils.npy_store import load_npy, save_npy_atomic

log = logging.getLogger(__name__)


def model_fingerprint(encoder: TextEncoder) -> str:
    """sha256 over the encoder's parameter values and its pooling settings (first 16 hex digits)."""
    digest = hashlib.sha256()
    digest.update(f"{encoder.pooling}|{encoder.normalize}".encode())
    for name, tensor in sorted(encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def texts_fingerprint(texts: Sequence[str]) -> str:
    """sha256 over the texts in order (first 16 hex digits)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@torch.inference_mode()
def encode_texts(
    encoder: TextEncoder,
    texts: Sequence[str],
    *,
    max_length: int,
    batch_size: int = 64,
    bf16: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
    desc: str = "encode",
) -> np.ndarray:
    """Embed ``texts`` → [N, D] float32, in input order.

    Texts are tokenised once and sorted by length so that each batch pads little; batches run
    under ``torch.inference_mode`` and, with ``bf16``, under bf16 autocast.
    """
    device = torch.device(device) if device else next(encoder.parameters()).device
    append_eos = bool(encoder.cfg.get("append_eos", False))
    ids = tokenize(encoder.tokenizer, texts, max_length=max_length, append_eos=append_eos)
    order = np.argsort([-len(seq) for seq in ids], kind="stable")
    out = np.zeros((len(texts), encoder.embedding_dim), dtype=np.float32)
    was_training = encoder.training
    encoder.eval()
    pad_id, side = encoder.tokenizer.pad_token_id, encoder.tokenizer.padding_side
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", disable=not progress, leave=False):
        rows = order[start : start + batch_size]
        batch = pad_tokens([ids[i] for i in rows], pad_id=pad_id, side=side)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            emb = encoder(batch.input_ids.to(device), batch.attention_mask.to(device))  # [b, D]
        out[rows] = emb.float().cpu().numpy()
    encoder.train(was_training)
    return out


def is_global_zero() -> bool:
    """True outside a process group and on its rank 0: the process that writes shared cache entries."""
    return not (torch.distributed.is_available() and torch.distributed.is_initialized()) or (
        torch.distributed.get_rank() == 0
    )


class EmbeddingCache:
    """Embeddings on disk as ``<dir>/<model>-<texts>-<settings>.npy``, written atomically.

    Under a process group (DDP) every rank that misses encodes for itself, but only rank 0 writes the
    entry: the ranks would write the same array, and the disk sees one writer per run.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.last_hit = False  # whether the latest encode() call was answered from disk

    def store(self, path: Path, embeddings: np.ndarray) -> None:
        """Write one entry (``embeddings`` [N, D]) atomically."""
        save_npy_atomic(path, embeddings)

    def path(self, model_fp: str, texts_fp: str, settings: str) -> Path:
        tag = hashlib.sha256(settings.encode()).hexdigest()[:8]
        return self.directory / f"{model_fp}-{texts_fp}-{tag}.npy"

    def encode(
        self, encoder: TextEncoder, texts: Sequence[str], *, model_fp: str | None = None, **kwargs: object
    ) -> np.ndarray:
        """Cached :func:`encode_texts`: reuse the file when model, texts and settings match."""
        model_fp = model_fp or model_fingerprint(encoder)
        settings = f"{kwargs.get('max_length')}|{bool(kwargs.get('bf16', False))}"
        path = self.path(model_fp, texts_fingerprint(texts), settings)
        stored = load_npy(path)
        self.last_hit = stored is not None
        if stored is not None:
            log.info("embeddings from cache: %s", path)
            return stored
        emb = encode_texts(encoder, texts, **kwargs)  # type: ignore[arg-type]
        if is_global_zero():
            self.store(path, emb)
        return emb
