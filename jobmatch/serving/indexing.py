"""Build or append to a talent index with an exported model: only talents not yet indexed are encoded."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from jobmatch.data.readers import DataFormatError
from jobmatch.model import TextEncoder
from jobmatch.retrieval.encode import encode_texts
from jobmatch.serving.export_format import load_exported, read_export_manifest
from jobmatch.serving.index_store import MANIFEST_NAME, TalentIndex
from jobmatch.serving.talents import Talent, read_talents

log = logging.getLogger(__name__)


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


def count_over_length(encoder: TextEncoder, texts: list[str], max_length: int) -> int:
    """How many texts have more tokens than ``max_length`` (encoding truncates them)."""
    extra = 1 if encoder.cfg.get("append_eos") else 0
    lengths = [len(ids) + extra for ids in encoder.tokenizer(texts, truncation=False, verbose=False)["input_ids"]]
    return sum(n > max_length for n in lengths)


def new_talents(index: TalentIndex, talents: list[Talent], corpus: Path) -> tuple[list[Talent], int]:
    """The talents whose ids are not in ``index`` yet, and how many were already there with the same text.

    Raises:
        DataFormatError: an id already in the index with a different text (``FILE:LINE``).
    """
    fresh, skipped = [], 0
    for talent in talents:
        row = index.row_of.get(talent.id)
        if row is None:
            fresh.append(talent)
        elif index.texts[row] == talent.text:
            skipped += 1
        else:
            raise DataFormatError(corpus, talent.line or 0, f"duplicate id '{talent.id}': already in the index "
                                  "with a different text (ids must be unique; rebuild with append=false to "
                                  "replace talents)")
    return fresh, skipped


def index_talents(
    model_dir: str | Path, corpus: str | Path, out: str | Path, *, append: bool = False, kind: str = "auto",
    batch_size: int = 64, bf16: bool = False, device: torch.device | str = "cpu",
) -> IndexReport:
    """Embed the talents of ``corpus`` with the export ``model_dir`` into the index ``out``.

    ``append=false`` builds a new index (replacing one at ``out`` only once the new one is complete).
    ``append=true`` loads the index at ``out`` (building it if absent), refuses a different model,
    skips talents already indexed with the same text and encodes only the new ones.
    """
    model_dir, corpus, out = Path(model_dir), Path(corpus), Path(out)
    export = read_export_manifest(model_dir)  # fail fast on bad inputs, before loading the model
    talents = read_talents(corpus)
    store: TalentIndex | None = None
    skipped = 0
    if append and (out / MANIFEST_NAME).exists():
        store = TalentIndex.load(out)
        store.check_model(export.model_fingerprint, model_dir, where=str(out))
        talents, skipped = new_talents(store, talents, corpus)
        if not talents:
            log.info("%s: all %d talents are already in %s; nothing to add", corpus, skipped, out)
            return IndexReport(0, skipped, len(store), 0, 0.0, 0.0, 0.0)
    elif append:
        log.info("no index at %s yet: building it", out)
    start = time.perf_counter()
    encoder = load_exported(model_dir, device)
    load_s = time.perf_counter() - start
    texts = [t.text for t in talents]
    truncated = count_over_length(encoder, texts, export.max_passage_length)
    if truncated:
        log.warning("%d of %d talent profiles exceed max_passage_length=%d tokens and are truncated",
                    truncated, len(texts), export.max_passage_length)
    start = time.perf_counter()
    embeddings = encode_texts(encoder, texts, max_length=export.max_passage_length, batch_size=batch_size,
                              bf16=bf16, device=device, desc="talents")  # [N, D]
    if store is None:
        store = TalentIndex.build(embeddings, talents, model_fingerprint=export.model_fingerprint,
                                  model_path=str(model_dir.resolve()), max_passage_length=export.max_passage_length,
                                  kind=kind, source=str(corpus))
    else:
        store.add(embeddings, talents, source=str(corpus))
    encode_s = time.perf_counter() - start
    store.save(out)
    report = IndexReport(len(talents), skipped, len(store), truncated, encode_s, len(talents) / max(encode_s, 1e-9),
                         load_s)
    log.info("indexed %d talents (%d already there) in %.1fs: %.1f talents/s; %s holds %d",
             report.added, skipped, encode_s, report.talents_per_s, out, report.total)
    return report
