"""The export task: a checkpoint's encoder as a standalone HF + sentence-transformers folder
(``python -m jobmatch.export``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from jobmatch.app.run_dir import resolve_run_dir
from jobmatch.model.checkpoint import inspect_checkpoint
from jobmatch.model.loading import load_encoder
from jobmatch.serving.export_format import export_encoder
from jobmatch.utils.run import write_results

log = logging.getLogger(__name__)


def export_token_limits(cfg: DictConfig, ckpt: str | None) -> tuple[int, int]:
    """(max_query_length, max_passage_length): explicit values, else those the checkpoint's module recorded,
    else (older checkpoints) those of the run's ``config.yaml`` beside ``checkpoints/``, else ``cfg.data``'s."""
    data: Any = {"max_query_length": cfg.data.max_query_length, "max_passage_length": cfg.data.max_passage_length}
    saved = inspect_checkpoint(ckpt).token_limits if ckpt else None
    if saved is not None:
        data = {"max_query_length": saved[0], "max_passage_length": saved[1]}
        log.info("token limits from the checkpoint: %s", saved)
    elif ckpt:
        run_config = Path(ckpt).resolve().parent.parent / "config.yaml"  # <run_dir>/checkpoints/x.ckpt
        if run_config.is_file():
            data = OmegaConf.load(run_config).get("data") or data
            log.info("token limits from the training run: %s", run_config)
    query = cfg.max_query_length if cfg.max_query_length is not None else data.get("max_query_length")
    passage = cfg.max_passage_length if cfg.max_passage_length is not None else data.get("max_passage_length")
    return int(query), int(passage)


def export(cfg: DictConfig) -> dict[str, Any]:
    """Load the checkpoint (or the base model of ``cfg.model``), merge LoRA, write the export folder."""
    run_dir = resolve_run_dir(cfg)
    ckpt = cfg.ckpt
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    torch.manual_seed(int(cfg.seed))  # ckpt=null with a random-init model config: the same model every time
    encoder = load_encoder(ckpt, model_cfg)  # type: ignore[arg-type]
    max_query_length, max_passage_length = export_token_limits(cfg, ckpt)
    manifest = export_encoder(encoder, cfg.out, max_query_length=max_query_length,
                              max_passage_length=max_passage_length, source_checkpoint=ckpt,
                              overwrite=bool(cfg.overwrite))
    results = {f"export/{k}": v for k, v in manifest.to_json().items()}
    results["export/out"] = str(Path(cfg.out).resolve())
    write_results(run_dir, results)
    print(f"exported to {cfg.out} (fingerprint {manifest.model_fingerprint}, pooling {manifest.pooling}, "
          f"sentence-transformers exact: {manifest.sentence_transformers_exact})")
    return results
