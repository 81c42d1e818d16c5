"""Encode texts with a :class:`TextEncoder`: length-sorted batches, inference mode, optional bf16,
progress bar, and an on-disk cache keyed by model and text fingerprints."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from jobmatch.data.collate import pad_tokens
from jobmatch.data.corpus import Corpus
from jobmatch.data.token_store import TokenList, TokenSource
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
    """Embed ``texts`` → [N, D] float32, in input order (tokenised in memory, truncated; see :func:`encode_tokens`)."""
    append_eos = bool(encoder.cfg.get("append_eos", False))
    tokens = TokenList(tokenize(encoder.tokenizer, texts, max_length=max_length, append_eos=append_eos))
    return encode_tokens(encoder, tokens, batch_size=batch_size, bf16=bf16, device=device, progress=progress,
                         desc=desc)


@torch.inference_mode()
def encode_tokens(
    encoder: TextEncoder,
    tokens: TokenSource,
    rows: np.ndarray | Sequence[int] | None = None,
    *,
    batch_size: int = 64,
    bf16: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
    desc: str = "encode",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Embed ``rows`` of a token source (default: all) → [M, D] float32, in the order of ``rows``.

    Rows are sorted by length so that each batch pads little; only one batch of ids is read at a time
    (a :class:`~jobmatch.data.token_store.TokenStore` stays on disk). Batches run under
    ``torch.inference_mode`` and, with ``bf16``, under bf16 autocast. ``out`` ([M, D], e.g. a memory-mapped
    shard) receives the embeddings instead of a new array.
    """
    device = torch.device(device) if device else next(encoder.parameters()).device
    rows = np.arange(len(tokens), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    order = np.argsort(-tokens.lengths()[rows], kind="stable")  # [M] longest first
    if out is None:
        out = np.zeros((len(rows), encoder.embedding_dim), dtype=np.float32)
    was_training = encoder.training
    encoder.eval()
    pad_id, side = encoder.tokenizer.pad_token_id, encoder.tokenizer.padding_side
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", disable=not progress, leave=False):
        picks = order[start : start + batch_size]
        batch = pad_tokens(tokens.rows(rows[picks]), pad_id=pad_id, side=side)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            emb = encoder(batch.input_ids.to(device), batch.attention_mask.to(device))  # [b, D]
        out[picks] = emb.float().cpu().numpy()
    encoder.train(was_training)
    return out


@torch.inference_mode()
def encode_corpus(
    encoder: TextEncoder,
    corpus: Corpus,
    *,
    max_length: int,
    batch_size: int = 64,
    bf16: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
    desc: str = "encode corpus",
    cache: EmbeddingCache | None = None,
    model_fp: str | None = None,
) -> np.ndarray:
    """Embed every talent of ``corpus`` → [N, D] float32 in corpus order, from its token store (tokenised once
    per tokenizer and limit, cached on disk; no text is held in memory). With ``cache``, the embeddings are
    read from / written to it, keyed by the model, the corpus fingerprint and the settings."""

    def compute() -> np.ndarray:
        append_eos = bool(encoder.cfg.get("append_eos", False))
        tokens = corpus.tokens(encoder.tokenizer, max_length=max_length, append_eos=append_eos, progress=progress)
        return encode_tokens(encoder, tokens, batch_size=batch_size, bf16=bf16, device=device, progress=progress,
                             desc=desc)

    if cache is None:
        return compute()
    return cache.cached(model_fp or model_fingerprint(encoder), corpus.fingerprint[:16], f"{max_length}|{bf16}",
                        compute)


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
        save_npy_atomic(path, embeddings, "embedding cache entry")

    def path(self, model_fp: str, texts_fp: str, settings: str) -> Path:
        tag = hashlib.sha256(settings.encode()).hexdigest()[:8]
        return self.directory / f"{model_fp}-{texts_fp}-{tag}.npy"

    def encode(
        self, encoder: TextEncoder, texts: Sequence[str], *, model_fp: str | None = None, **kwargs: object
    ) -> np.ndarray:
        """Cached :func:`encode_texts`: reuse the file when model, texts and settings match."""
        model_fp = model_fp or model_fingerprint(encoder)
        settings = f"{kwargs.get('max_length')}|{bool(kwargs.get('bf16', False))}"
        return self.cached(model_fp, texts_fingerprint(texts), settings,
                           lambda: encode_texts(encoder, texts, **kwargs))  # type: ignore[arg-type]

    def cached(self, model_fp: str, texts_fp: str, settings: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The stored embeddings of (model, texts, settings), or ``compute()``'s, stored."""
        path = self.path(model_fp, texts_fp, settings)
        stored = load_npy(path)
        self.last_hit = stored is not None
        if stored is not None:
            log.info("embeddings from cache: %s", path)
            return stored
        emb = compute()
        if is_global_zero():
            self.store(path, emb)
        return emb
