"""The export folder: a standalone encoder that jobmatch, transformers and sentence-transformers all load.

Layout (``DIR``)::

    config.json, model.safetensors      the backbone, LoRA merged into the weights (safetensors only)
    tokenizer.json, tokenizer_config.json  the tokenizer with the markup special tokens, padding side
                                        and, for ``append_eos`` models, a template that appends EOS
    modules.json, sentence_bert_config.json, config_sentence_transformers.json,
    1_Pooling/config.json, 2_Normalize/   sentence-transformers modules (pooling, normalisation)
    jobmatch_export.json                pooling, normalisation, lengths, fingerprint, source (ExportManifest)
    README.md                           how to load it

The manifest's ``model_fingerprint`` is :func:`jobmatch.retrieval.encode.model_fingerprint` of the
encoder as :func:`load_exported` rebuilds it; indexes record it to refuse another model.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel

import jobmatch
from jobmatch.model import TextEncoder
from jobmatch.retrieval.encode import encode_texts, model_fingerprint
from jobmatch.serving.eos import eos_tokenizer_if_exact
from jobmatch.serving.errors import ExportFormatError
from jobmatch.serving.st_files import README_TEMPLATE, write_sentence_transformers_files

log = logging.getLogger(__name__)

MANIFEST_NAME = "jobmatch_export.json"
FORMAT = "jobmatch-export"
VERSION = 1
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
# Texts embedded before and after the export to check that nothing changed (one longer than any limit).
PROBE_TEXTS = (
    "Postdoctoral researcher in machine learning, Bristol, United Kingdom",
    "<keyword>graph neural networks<sep>protein folding</keyword><title>Learning to fold</title>",
    "Tenure-track assistant professor of materials chemistry at a research university in Lyon.",
    " ".join(["battery electrodes and perovskite solar cells studied with deep learning"] * 120),
)


@dataclass
class ExportManifest:
    """``jobmatch_export.json``: how to embed with the exported weights.

    ``append_eos`` is the training setting; ``tokenizer_appends_eos`` says whether the exported
    tokenizer does it itself (then every tool gets jobmatch's ids and ``sentence_transformers_exact``
    holds); otherwise jobmatch appends EOS when it loads the export and other tools do not.
    """

    pooling: str
    normalize: bool
    padding_side: str
    append_eos: bool
    tokenizer_appends_eos: bool
    sentence_transformers_exact: bool
    max_query_length: int
    max_passage_length: int
    embedding_dim: int
    dtype: str
    model_fingerprint: str
    source_checkpoint: str | None
    source_model: str
    lora_merged: bool
    markup_tokens: bool
    export_check_min_cosine: float
    created: str
    jobmatch_version: str = jobmatch.__version__
    format: str = FORMAT
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _source_name(cfg: dict[str, Any]) -> str:
    if cfg.get("config"):
        return f"random {cfg['config'].get('model_type', '?')} (from an inline config)"
    return str(cfg.get("name_or_path"))


def _zero_pooler(backbone: PreTrainedModel) -> None:
    """Give a backbone whose unused pooler jobmatch dropped (BERT) a zero pooler again, so that
    loaders find every weight instead of reporting freshly initialised ones. jobmatch's pooling and
    sentence-transformers' never read it."""
    if getattr(backbone, "pooler", 0) is not None:
        return
    with torch.device("meta"):
        skeleton = type(backbone)(backbone.config)
    pooler = getattr(skeleton, "pooler", None)
    if pooler is None:
        return
    dtype = next(backbone.parameters()).dtype
    pooler = pooler.to_empty(device="cpu").to(dtype)
    for param in pooler.parameters():
        torch.nn.init.zeros_(param)
    backbone.pooler = pooler


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest row-wise cosine of two [N, D] arrays."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True).clip(min=1e-12)
    b = b / np.linalg.norm(b, axis=1, keepdims=True).clip(min=1e-12)
    return float((a * b).sum(axis=1).min())


def _write_manifest(folder: Path, manifest: ExportManifest) -> None:
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")


def _replace_folder(tmp: Path, out: Path) -> None:
    """Move a finished ``tmp`` folder to ``out``, replacing an existing export there."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def _match_file_modes(folder: Path, reference: Path) -> None:
    """Give the weight files the permissions of ``reference`` (the umask's, e.g. 0644): safetensors
    creates them 0600, unreadable to the other users of a shared export."""
    mode = stat.S_IMODE(reference.stat().st_mode)
    for path in folder.glob("*.safetensors"):
        path.chmod(mode)


def _check_target(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise ExportFormatError(f"{out} is a file; the export needs a folder")
    if not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=true to replace it")
    if any(out.iterdir()) and not (out / MANIFEST_NAME).is_file():
        raise ExportFormatError(f"{out} exists and is not a jobmatch export; refusing to replace it")


def export_encoder(
    encoder: TextEncoder,
    out: str | Path,
    *,
    max_query_length: int,
    max_passage_length: int,
    source_checkpoint: str | None = None,
    overwrite: bool = False,
    min_cosine: float = 0.999,
) -> ExportManifest:
    """Write ``encoder`` as a standalone export folder (see the module docstring).

    The LoRA adapter is merged into ``encoder`` in place. The folder is assembled in a temporary
    sibling and moved into place only after it reloads with :func:`load_exported` and embeds
    :data:`PROBE_TEXTS` like ``encoder`` did (row-wise cosine ≥ ``min_cosine``).

    Raises:
        FileExistsError: ``out`` exists and ``overwrite`` is false.
        ExportFormatError: the reloaded export embeds differently.
    """
    out = Path(out)
    _check_target(out, overwrite)
    encoder.eval()
    probes = list(PROBE_TEXTS)
    before = encode_texts(encoder, probes, max_length=max_passage_length, progress=False)  # [P, D]
    lora_merged = encoder.uses_lora
    encoder.merge_adapter()
    cfg = encoder.cfg
    append_eos = bool(cfg.get("append_eos", False))
    eos_tokenizer = eos_tokenizer_if_exact(encoder.tokenizer, probes, max_passage_length) if append_eos else None
    if append_eos and eos_tokenizer is None:
        log.warning("this tokenizer cannot be made to append EOS itself: jobmatch appends it when loading the "
                    "export, sentence-transformers and plain transformers will not (embeddings differ there)")
    tokenizer = eos_tokenizer or copy.deepcopy(encoder.tokenizer)
    tokenizer.model_max_length = max_passage_length

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        backbone = encoder.backbone
        _zero_pooler(backbone)  # type: ignore[arg-type]
        backbone.save_pretrained(tmp)
        _match_file_modes(tmp, reference=tmp / "config.json")
        tokenizer.save_pretrained(tmp)
        manifest = ExportManifest(
            pooling=encoder.pooling, normalize=encoder.normalize, padding_side=str(tokenizer.padding_side),
            append_eos=append_eos, tokenizer_appends_eos=eos_tokenizer is not None,
            sentence_transformers_exact=not append_eos or eos_tokenizer is not None,
            max_query_length=int(max_query_length), max_passage_length=int(max_passage_length),
            embedding_dim=encoder.embedding_dim, dtype=str(cfg.get("dtype", "float32")), model_fingerprint="",
            source_checkpoint=str(Path(source_checkpoint).resolve()) if source_checkpoint else None,
            source_model=_source_name(cfg), lora_merged=lora_merged, markup_tokens=bool(encoder.markup_token_ids),
            export_check_min_cosine=float("nan"), created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        write_sentence_transformers_files(
            tmp, pooling=encoder.pooling, normalize=encoder.normalize, dim=encoder.embedding_dim,
            max_seq_length=int(max_passage_length),
            versions={"jobmatch": jobmatch.__version__, "pytorch": torch.__version__},
        )
        _write_manifest(tmp, manifest)
        reloaded = load_exported(tmp)
        after = encode_texts(reloaded, probes, max_length=max_passage_length, progress=False)  # [P, D]
        manifest.export_check_min_cosine = _min_cosine(before, after)
        if manifest.export_check_min_cosine < min_cosine:
            raise ExportFormatError(f"the exported model embeds differently from the checkpoint (min cosine "
                                    f"{manifest.export_check_min_cosine:.6f} < {min_cosine}); nothing was written")
        manifest.model_fingerprint = model_fingerprint(reloaded)
        _write_manifest(tmp, manifest)
        notes = "" if manifest.sentence_transformers_exact else (
            "\n**Note:** jobmatch appends EOS after truncation for this model and this tokenizer cannot do it "
            "itself: sentence-transformers embeddings differ slightly from jobmatch's.\n")
        details = " ".join(sentence for sentence, holds in (
            ("LoRA weights are merged into the base weights.", manifest.lora_merged),
            ("The tokenizer carries the profile markup special tokens.", manifest.markup_tokens),
            ("The tokenizer appends EOS (as jobmatch's append_eos).", manifest.tokenizer_appends_eos)) if holds)
        (tmp / "README.md").write_text(README_TEMPLATE.format(
            source=manifest.source_checkpoint or manifest.source_model, details=details, pooling=manifest.pooling,
            normalize=manifest.normalize, max_query_length=max_query_length, max_passage_length=max_passage_length,
            fingerprint=manifest.model_fingerprint, folder=out, notes=notes), encoding="utf-8")
        _replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("exported %s (fingerprint %s, check cosine %.6f)", out, manifest.model_fingerprint,
             manifest.export_check_min_cosine)
    return manifest


def read_export_manifest(folder: str | Path) -> ExportManifest:
    """The manifest of an export folder, validated.

    Raises:
        FileNotFoundError: the folder does not exist.
        ExportFormatError: it is not a jobmatch export, or its manifest is unreadable or incomplete.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"model folder {folder} does not exist")
    path = folder / MANIFEST_NAME
    if not folder.is_dir() or not path.is_file():
        raise ExportFormatError(f"{folder} is not a jobmatch export (no {MANIFEST_NAME}); create one with "
                                f"`jobmatch export ckpt=CHECKPOINT out={folder}`")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ExportFormatError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ExportFormatError(f"{path}: not a jobmatch export manifest (format should be '{FORMAT}')")
    if int(obj.get("version", 0)) > VERSION:
        raise ExportFormatError(f"{path}: export format version {obj['version']} is newer than this jobmatch "
                                f"reads ({VERSION}); upgrade jobmatch")
    fields = {f.name for f in dataclasses.fields(ExportManifest)}
    missing = sorted(f.name for f in dataclasses.fields(ExportManifest)
                     if f.name not in obj and f.default is dataclasses.MISSING)
    if missing:
        raise ExportFormatError(f"{path}: missing keys {missing}")
    return ExportManifest(**{k: v for k, v in obj.items() if k in fields})


def _check_safe(folder: Path) -> None:
    """Refuse folders whose weights would need unpickling or whose config asks for remote code."""
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise ExportFormatError(f"{folder} holds pickle weight files {pickles}; jobmatch loads safetensors only "
                                "(re-export with jobmatch export)")
    if not any(folder.glob("*.safetensors")):
        raise ExportFormatError(f"{folder} has no *.safetensors weights")
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportFormatError(f"{folder} has no config.json") from None
    except json.JSONDecodeError as err:
        raise ExportFormatError(f"{config_path}: not valid JSON ({err})") from None
    if "auto_map" in config:
        raise ExportFormatError(f"{config_path} asks for custom model code (auto_map); jobmatch never runs remote code")


def load_exported(folder: str | Path, device: str | torch.device | None = None) -> TextEncoder:
    """A :class:`TextEncoder` (eval mode, no LoRA) from an export folder, ready for ``encode_texts``.

    Its ``cfg`` carries ``max_query_length`` and ``max_passage_length`` from the manifest. Loading
    reads safetensors only and never trusts remote code.
    """
    folder = Path(folder)
    manifest = read_export_manifest(folder)
    _check_safe(folder)
    cfg: dict[str, Any] = {
        "name_or_path": str(folder), "tokenizer": None, "config": None, "gguf_file": None,
        "pooling": manifest.pooling, "normalize": manifest.normalize, "padding_side": manifest.padding_side,
        "append_eos": manifest.append_eos and not manifest.tokenizer_appends_eos,
        "add_markup_tokens": False, "dtype": manifest.dtype, "attn_implementation": "sdpa",
        "gradient_checkpointing": False, "trust_remote_code": False, "lora": {"enabled": False},
        "max_query_length": manifest.max_query_length, "max_passage_length": manifest.max_passage_length,
    }
    try:
        encoder = TextEncoder(cfg)
    except (OSError, ValueError) as err:
        raise ExportFormatError(f"{folder}: cannot load the exported model ({err})") from err
    encoder.eval()
    if device is not None:
        encoder.to(device)
    return encoder
