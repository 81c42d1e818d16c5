"""The mining task: hard negatives for the training JDs with a checkpoint (``python -m jobmatch.mine``)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from jobmatch.app.builders import container, embedding_cache, encode_settings
from jobmatch.app.run_dir import check_writable_options, resolve_run_dir
from jobmatch.app.validation import validate_config
from jobmatch.data.readers import read_contrastive, write_jsonl
from jobmatch.data.retrieval_set import build_retrieval_set, open_corpus
from jobmatch.model.loading import load_encoder
from jobmatch.retrieval.encoder_eval import embed_set
from jobmatch.retrieval.mining import MiningConfig, mine_negatives
from jobmatch.retrieval.search import build_index, search
from jobmatch.utils.run import write_results

log = logging.getLogger(__name__)


def mine_file(
    cfg: DictConfig, ckpt: str | None, train_file: str, out_file: Path, round_index: int
) -> dict[str, Any]:
    """Mine negatives for every record of ``train_file`` with ``ckpt``; write ``out_file``; return stats."""
    start = time.perf_counter()
    records = read_contrastive(train_file, on_error=str(cfg.data.on_error))  # type: ignore[arg-type]
    cache_dir = cfg.paths.cache_dir
    corpus = open_corpus(cfg.data.corpus_file, cache_dir) if cfg.data.get("corpus_file") else None
    rset = build_retrieval_set(records, corpus, cache_dir=cache_dir, source=train_file,
                               corpus_file=cfg.data.get("corpus_file"))
    mining = MiningConfig(**container(cfg.mining))
    encoder = load_encoder(ckpt, container(cfg.model))
    query_emb, corpus_emb, timings = embed_set(encoder, rset, encode_settings(cfg), embedding_cache(cfg))
    depth = min(mining.window_end, len(corpus_emb))
    scores, ranked = search(build_index(corpus_emb, "flat"), query_emb, depth)
    with_texts = bool(cfg.data.get("write_texts", False)) or corpus is None  # ids need a corpus file to refer to
    mined, stats = mine_negatives(records, rset, query_emb, corpus_emb, ranked, scores, mining, round_index,
                                  with_texts=with_texts)
    write_jsonl(out_file, (r.to_json() for r in mined))
    result = {**stats.to_dict(), **timings, "time/mine_s": time.perf_counter() - start,
              "mining/file": str(out_file), "mining/ckpt": str(ckpt), "mining/round": round_index}
    log.info("mined %s: %s", out_file, json.dumps({k: v for k, v in result.items() if k.startswith("mining/")}))
    return result


def mine(cfg: DictConfig) -> dict[str, Any]:
    """Mine with ``cfg.ckpt`` into the run directory (``train_round<k>.jsonl`` and ``results.json``)."""
    validate_config(cfg)
    check_writable_options({"paths.cache_dir": cfg.paths.cache_dir})  # corpus stores and embeddings are cached there
    run_dir = resolve_run_dir(cfg)
    result = mine_file(cfg, cfg.get("ckpt"), str(cfg.data.train_file),
                       run_dir / f"train_round{int(cfg.round)}.jsonl", int(cfg.round))
    write_results(run_dir, result)
    return result
