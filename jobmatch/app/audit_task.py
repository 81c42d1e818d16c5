"""The fairness-audit task: a checkpoint on the test split (``python -m jobmatch.audit``).

Writes ``results.json`` (``audit/<attribute>/…`` and, with ``fairness.judge_pairs_per_query``, ``judge/…``),
``audit.md`` and ``audit.png`` into its run directory and prints a short fairness block.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from jobmatch.annotate.judge_fairness import judge_flip_rate, name_swap_pairs
from jobmatch.annotate.judging import judge_items
from jobmatch.annotate.redaction import redact_items
from jobmatch.app.builders import (
    build_datamodule,
    build_loggers,
    container,
    embedding_cache,
    encode_settings,
    log_results,
)
from jobmatch.app.judge_builder import build_judge
from jobmatch.app.run_dir import check_writable_options, resolve_run_dir
from jobmatch.app.validation import validate_config
from jobmatch.app.wandb_meta import pin_launch
from jobmatch.data.identities import CorpusIdentities, read_identities
from jobmatch.data.retrieval_set import RetrievalSet
from jobmatch.errors import UserError
from jobmatch.model.loading import load_encoder
from jobmatch.report.fairness_report import fairness_block, write_audit_report
from jobmatch.retrieval.fairness_audit import (
    AUDIT_PER_QUERY_FILE,
    AuditEmbeddings,
    AuditSettings,
    audit_values,
    encoder_embeddings,
    summarise,
)
from jobmatch.retrieval.topk import top_k
from jobmatch.utils.run import write_results

log = logging.getLogger(__name__)


def audit_settings(cfg: DictConfig) -> AuditSettings:
    """The audit's settings from ``cfg.audit`` (and the run's seed)."""
    ks = tuple(int(k) for k in cfg.fairness.ks)
    return AuditSettings(
        ks=ks,
        change_k=max(ks),
        depth=int(cfg.fairness.depth),
        n_bootstrap=int(cfg.fairness.n_bootstrap),
        seed=int(cfg.seed),
        flag_below=float(cfg.fairness.flag_below),
    )


def corpus_identities(cfg: DictConfig) -> CorpusIdentities:
    """The identities of ``data.corpus_file``; a clear error when the data marks no group."""
    path = cfg.data.get("corpus_file")
    identities = read_identities(path) if path else CorpusIdentities()
    if not identities.attributes:
        raise UserError(
            f"{path or 'data.corpus_file'}: no talent carries a group field (gender, origin or group); the audit "
            "needs them (and a name for counterfactuals): add them to the corpus rows, or use data=synthetic_small"
        )
    return identities


def judge_flips(
    cfg: DictConfig,
    rset: RetrievalSet,
    identities: CorpusIdentities,
    emb: AuditEmbeddings,
) -> dict[str, float]:
    """The configured judge's name-swap flip rate on pairs from each JD's top 20 (redacted if configured)."""
    corpus_ids = rset.corpus.ids
    top = [[corpus_ids[j] for j in row] for row in top_k(emb.queries, emb.corpus, 20)[1].tolist()]
    factual, swapped, names = name_swap_pairs(
        top,
        list(rset.queries.values()),
        rset.corpus,
        identities,
        per_query=int(cfg.fairness.judge_pairs_per_query),
        seed=int(cfg.seed),
    )
    judge = build_judge(cfg.judge)
    if cfg.judge.get("redact"):  # the judge sees what annotation would send it
        factual = redact_items(factual, names)[0]
        swapped = redact_items(swapped, names)[0]
    n_bootstrap, seed = int(cfg.fairness.n_bootstrap), int(cfg.seed)
    return judge_flip_rate(judge, factual, swapped, judge_items, n_bootstrap=n_bootstrap, seed=seed)


def audit_checkpoint(
    cfg: DictConfig, ckpt: str | None, rset: RetrievalSet, identities: CorpusIdentities, out_dir: Path, label: str
) -> dict[str, Any]:
    """Audit one checkpoint; write ``results.json``, ``audit_per_query.json`` (per-JD values), ``audit.md`` and
    ``audit.png`` into ``out_dir``."""
    encoder = load_encoder(ckpt, container(cfg.model))
    emb = encoder_embeddings(encoder, rset, encode_settings(cfg), embedding_cache(cfg))
    settings = audit_settings(cfg)
    values = audit_values(emb, rset, identities, settings)
    results: dict[str, Any] = summarise(values, settings)
    if int(cfg.fairness.judge_pairs_per_query) > 0:
        results.update(judge_flips(cfg, rset, identities, emb))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / AUDIT_PER_QUERY_FILE).write_text(json.dumps(values.to_json()))
    write_results(out_dir, results)
    write_audit_report(out_dir, results, settings.ks, model=label)
    return results


def audit_setup(cfg: DictConfig) -> tuple[RetrievalSet, CorpusIdentities]:
    """The test split and the corpus's identities (a clear error when the data marks no group)."""
    datamodule = build_datamodule(cfg)
    identities = corpus_identities(cfg)
    return datamodule.test_retrieval(), identities


def audit(cfg: DictConfig) -> dict[str, Any]:
    """Audit ``cfg.ckpt`` on the test split; write ``results.json``, ``audit.md``, ``audit.png``."""
    validate_config(cfg)
    check_writable_options({"paths.cache_dir": cfg.paths.cache_dir})  # corpus stores and embeddings are cached there
    pin_launch(cfg, "audit")
    run_dir = resolve_run_dir(cfg)
    label = str(cfg.get("ckpt") or "untrained model")
    results = audit_checkpoint(cfg, cfg.get("ckpt"), *audit_setup(cfg), run_dir, label)
    log_results(cfg, build_loggers(cfg, "audit"), results, run_dir)
    print(fairness_block({label: results}, k=max(audit_settings(cfg).ks)))
    return results
