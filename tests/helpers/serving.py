"""Helpers of the serving tests (export → index → rank): tiny encoders with a non-trivial LoRA, exports, files.

No tests here; the serving test modules import these helpers.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from jobmatch.model import TextEncoder
from jobmatch.serving.export_format import export_encoder
from tests.helpers.config import compose_config

TALENTS = [
    {"id": "t1", "text": "Postdoctoral researcher in machine learning at the University of Bristol"},
    {"id": "t2", "text": "<keyword>perovskite solar cells<sep>battery electrodes</keyword><title>Storage</title>"},
    {"id": "t3", "text": "Professor of marine ecology, species distribution models and remote sensing"},
    {"id": "t4", "text": "PhD student in computational linguistics, Edinburgh"},
    {"id": "t5", "text": "Lecturer in organic chemistry and catalysis, Lyon, France"},
    {"id": "t6", "text": "Research fellow in protein folding with graph neural networks"},
]
NEW_TALENTS = [
    {"id": "t7", "text": "Assistant professor of astrophysics, exoplanet atmospheres"},
    {"id": "t8", "text": "Data scientist turned researcher in causal inference for epidemiology"},
]


def model_config(model: str = "tiny_bert", *overrides: str) -> dict[str, Any]:
    """The composed ``model`` node of conf/train.yaml as a plain dict."""
    cfg = compose_config([f"model={model}", *overrides])
    return OmegaConf.to_container(cfg.model, resolve=True)  # type: ignore[return-value]


@functools.cache
def _base_encoder(model: str, overrides: tuple[str, ...]) -> TextEncoder:
    return TextEncoder(model_config(model, *overrides))


def tiny_encoder(model: str = "tiny_bert", *overrides: str, seed: int = 0) -> TextEncoder:
    """A tiny random encoder whose LoRA (and trainable markup rows) are non-zero, as after training;
    ``seed`` draws those weights (a fresh copy each call: exporting merges it in place)."""
    encoder = copy.deepcopy(_base_encoder(model, overrides))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in encoder.named_parameters():
            if "lora_B" in name or "trainable_tokens" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.2)
    return encoder.eval()


def make_export(out: Path, model: str = "tiny_bert", *overrides: str, seed: int = 0, **kwargs: Any) -> Path:
    """Export a tiny encoder to ``out`` (token limits 32 for JDs and talents unless given)."""
    kwargs.setdefault("max_query_length", 32)
    kwargs.setdefault("max_passage_length", 32)
    export_encoder(tiny_encoder(model, *overrides, seed=seed), out, **kwargs)
    return out


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    """One JSON value per line (strings are written as given, for malformed-line tests)."""
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def count_encoded(monkeypatch: Any) -> list[int]:
    """Record how many texts each shard the sharded encoder encodes (a list the caller reads after the run)."""
    import jobmatch.retrieval.shard_encode as shard_encode

    calls: list[int] = []
    original = shard_encode.encode_tokens

    def spy(encoder, tokens, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(tokens))
        return original(encoder, tokens, *args, **kwargs)

    monkeypatch.setattr(shard_encode, "encode_tokens", spy)
    return calls
