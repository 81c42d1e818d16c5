"""The rank task: the talents of an index for job descriptions, the model loaded once
(``python -m jobmatch.rank``)."""

from __future__ import annotations

import logging
import time
from typing import Any

from omegaconf import DictConfig

from jobmatch.app.threads import apply_threads, int_option
from jobmatch.serving.device import resolve_device
from jobmatch.serving.errors import InputError
from jobmatch.serving.ranking import Ranker, format_json, format_table, latency_summary, read_jds

log = logging.getLogger(__name__)
FORMATS = ("table", "json")


def rank(cfg: DictConfig) -> dict[str, Any]:
    """Read the JDs, load index and model, print each JD's ranked talents; returns latency figures."""
    if cfg.format not in FORMATS:
        raise InputError(f"format={cfg.format} is not one of {FORMATS}")
    k = int_option("k", cfg.k, "20")
    snippet_chars = int_option("snippet_chars", cfg.snippet_chars, "80", low=0)
    jds = read_jds(str(cfg.jd))  # bad input fails before the model loads
    apply_threads(cfg.threads)
    device = resolve_device(cfg.device)
    start = time.perf_counter()
    ranker = Ranker.open(cfg.index, cfg.model_dir, device=device, bf16=bool(cfg.bf16),
                         snippet_chars=snippet_chars)
    load_s = time.perf_counter() - start
    latencies = []
    for i, jd in enumerate(jds):
        result = ranker.rank(jd, k)
        latencies.append(result.latency_ms)
        if cfg.format == "json":
            print(format_json(result), flush=True)
        else:
            print(("\n" if i else "") + format_table(result, snippet_chars), flush=True)
    summary = {"load_s": load_s, "jds": len(jds), **latency_summary(latencies)}
    log.info("loaded model and %d talents in %.2fs on %s; ranked %d JD(s): median %.1f ms, p90 %.1f ms per JD",
             len(ranker.index), load_s, device, len(jds), summary["median_ms"], summary["p90_ms"])
    return summary
