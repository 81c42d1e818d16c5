"""Builders: the objects of a run made from its config (the only place below the tasks that reads it).

Data module, LightningModule, loggers, encoding settings, embedding cache and evaluation device; the
training callbacks are in :mod:`jobmatch.app.callbacks`. Everything below this layer takes these
typed objects, never the config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from jobmatch.app.schema.names import named_options
from jobmatch.app.validation import import_loss_module
from jobmatch.app.wandb_meta import OPTIONS, RunLabels, is_wandb, wandb_init_kwargs
from jobmatch.data.datamodule import PairDataModule
from jobmatch.data.prepare import prepare_data
from jobmatch.losses import loss_variant
from jobmatch.modules.contrastive import ContrastiveModule
from jobmatch.modules.rankpo import RANKPO_OPTIONS, RankPOModule, stage2_model_config
from jobmatch.retrieval.encode import EmbeddingCache
from jobmatch.retrieval.encoder_eval import EncodeSettings
from jobmatch.serving.device import resolve_device
from jobmatch.utils.run import finish_wandb
from jobmatch.utils.wandb_upload import result_files, upload_files

GENERATOR_KEYS = ("synthetic", "dir")  # data keys of the synthetic generator (prepare_data), not of the DataModule


def container(node: Any) -> dict[str, Any]:
    """A config node as plain Python containers (what hyperparameters may hold)."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else {}  # type: ignore[return-value]


def encode_settings(cfg: DictConfig, bf16: bool | None = None, progress: bool = True) -> EncodeSettings:
    """Encoding settings of the config: lengths from ``data``, batch size and bf16 from ``eval``.

    ``bf16`` overrides ``eval.bf16`` (the frozen reference scores follow the training precision).
    """
    return EncodeSettings(
        max_query_length=int(cfg.data.max_query_length),
        max_passage_length=int(cfg.data.max_passage_length),
        batch_size=int(cfg.eval.batch_size),
        bf16=bool(cfg.eval.bf16) if bf16 is None else bool(bf16),
        progress=progress,
    )


def embedding_cache(cfg: DictConfig) -> EmbeddingCache | None:
    """The on-disk embedding cache (``paths.cache_dir/embeddings``) when ``eval.cache`` is on, else None."""
    return EmbeddingCache(Path(cfg.paths.cache_dir) / "embeddings") if cfg.eval.cache else None


def eval_device(cfg: DictConfig) -> torch.device:
    """Where evaluation encodes: the GPU when the trainer asks for an accelerator and one is present."""
    return resolve_device("cpu" if str(cfg.trainer.get("accelerator", "cpu")) == "cpu" else "auto")


def data_token_limits(cfg: DictConfig) -> dict[str, int]:
    """``max_query_length`` and ``max_passage_length`` of ``data`` (what a module records for export)."""
    return {"max_query_length": int(cfg.data.max_query_length), "max_passage_length": int(cfg.data.max_passage_length)}


def retrieval_options(cfg: DictConfig) -> dict[str, Any]:
    """``k``, ``cutoffs`` and ``index_kind`` of retrieval evaluation (``eval``)."""
    return {"k": int(cfg.eval.k), "cutoffs": tuple(cfg.eval.cutoffs), "index_kind": str(cfg.eval.index)}


def stage_module_kind(cfg: DictConfig) -> str | None:
    """The LightningModule of the configured stage: ``contrastive``, ``rankpo`` or None (unknown)."""
    if cfg.stage.name == "contrastive":
        return "contrastive"
    return "rankpo" if cfg.stage.get("module") == "rankpo" else None


def model_config(cfg: DictConfig, stage1: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model config a run trains: ``model``, with the stage-1 checkpoint's architecture in stage 2
    (``stage1``: that checkpoint's model config, if already read)."""
    model = container(cfg.model)
    if stage_module_kind(cfg) == "rankpo":  # stage 2 trains the architecture of its stage-1 checkpoint
        model = stage2_model_config(cfg.stage.get("init_ckpt"), model, stage1)
    return model


def build_datamodule(cfg: DictConfig, stage1: dict[str, Any] | None = None) -> PairDataModule:
    """The DataModule of the configured data and model (generating synthetic data if needed); a task without
    a ``stage`` (evaluate, annotate, audit) reads contrastive records."""
    prepare_data(container(cfg.data))
    stage = cfg.get("stage") or {}
    mode = str(stage.get("data_mode", "contrastive"))
    model = container(cfg.model)
    if mode == "preference":  # tokenise as the stage-1 checkpoint was trained
        model = stage2_model_config(stage.get("init_ckpt"), model, stage1)
    data = {k: v for k, v in container(cfg.data).items() if k not in GENERATOR_KEYS}
    return PairDataModule(model=model, seed=int(cfg.seed), mode=mode, cache_dir=str(cfg.paths.cache_dir), **data)


def build_module(cfg: DictConfig, stage1: dict[str, Any] | None = None) -> L.LightningModule:
    """The LightningModule of the configured stage (``stage1``: see :func:`model_config`)."""
    stage = cfg.stage
    kind = stage_module_kind(cfg)
    if kind == "contrastive":
        with named_options("stage"):
            return contrastive_module(cfg)
    if kind == "rankpo":  # stage 2: rankpo, rankpo_hinge, simrankpo, simrankpo_hinge, sft
        import_loss_module(cfg, "stage")  # a loss type that is not built in registers itself on import
        with named_options("stage"):
            return rankpo_module(cfg, stage1)
    raise ValueError(f"unknown stage.name '{stage.name}'; available: contrastive, or stage.module=rankpo")


def contrastive_module(cfg: DictConfig) -> ContrastiveModule:
    """The stage-1 module of ``cfg.stage``."""
    stage = cfg.stage
    return ContrastiveModule(
        model=container(cfg.model),
        optim=container(stage.optim),
        temperature=float(stage.temperature),
        in_batch_negatives=bool(stage.in_batch_negatives),
        init_ckpt=stage.get("init_ckpt"),
        chunk_size=stage.get("chunk_size"),
        chunk_recompute=bool(stage.get("chunk_recompute", True)),
        **data_token_limits(cfg),
    )


def rankpo_module(cfg: DictConfig, stage1: dict[str, Any] | None) -> RankPOModule:
    """The stage-2 module of ``cfg.stage`` (``stage1``: see :func:`model_config`)."""
    stage = cfg.stage
    options = {key: stage[key] for key in RANKPO_OPTIONS if key in stage}  # checked once, by RankPOModule
    own = loss_variant(str(stage.loss_type)).option_names()  # a variant's own options (its schema's fields)
    options["loss_options"] = {key: container(stage[key]) if OmegaConf.is_config(stage[key]) else stage[key]
                               for key in own if key in stage} or None
    return RankPOModule.from_stage1(stage.get("init_ckpt"), container(cfg.model), stage1_model=stage1,
                                    optim=container(stage.optim), **options, **data_token_limits(cfg))


def build_loggers(cfg: DictConfig, task: str, labels: RunLabels | None = None) -> list[Any]:
    """Instantiate every logger of the ``logger`` group (none is fine) for a ``task`` run (``train``,
    ``evaluate``, ``annotate``, ``audit``, ``curriculum``, ``pipeline``: :data:`wandb_meta.JOB_TYPES`).

    A W&B logger gets the derived name, group, job type, tags and config (:mod:`jobmatch.app.wandb_meta`;
    ``labels`` replaces the run's own method, lr and seed), and the privacy settings with
    ``logger.wandb.private``."""
    loggers = []
    for node in (cfg.get("logger") or {}).values():
        if node is None or "_target_" not in node:
            continue
        if not is_wandb(node):
            loggers.append(hydra.utils.instantiate(node))
            continue
        spec = container(node)  # plain values: the derived config may hold nodes with a _target_ of their own
        private = bool(spec.get("private"))
        spec = {k: v for k, v in spec.items() if k not in OPTIONS and not k.startswith("_")}
        logger_class = hydra.utils.get_class(str(node["_target_"]))
        loggers.append(logger_class(**spec | wandb_init_kwargs(spec, cfg, task, labels, private=private)))
    return loggers


def wandb_option(cfg: DictConfig, key: str) -> bool:
    """A jobmatch option of the W&B logger (``logger.wandb.log_files``, ``log_model``, ``private``); false
    without a W&B logger."""
    node = (cfg.get("logger") or {}).get("wandb")
    return bool(node.get(key)) if node is not None and is_wandb(node) else False


def wandb_runs(loggers: list[Any]) -> list[Any]:
    """The W&B runs of ``loggers`` (their ``experiment``), rank 0 only."""
    from lightning.pytorch.loggers import WandbLogger

    return [lg.experiment for lg in loggers if isinstance(lg, WandbLogger) and lg.experiment is not None]


def log_results(
    cfg: DictConfig, loggers: list[Any], results: dict[str, Any], run_dir: Path | None = None,
    subdirs: tuple[str, ...] = (),
) -> None:
    """Send the numeric entries of a run's results to its loggers (W&B: history and summary; CSV), upload
    the result files of ``run_dir`` (and its ``subdirs``) with ``logger.wandb.log_files``, flush the
    loggers and close the W&B run, so that the next step of a curriculum or pipeline opens a run of its own."""
    numeric = {k: v for k, v in results.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    for logger in loggers:
        logger.log_metrics(numeric)
        logger.save()
    if run_dir is not None and wandb_option(cfg, "log_files"):
        for run in wandb_runs(loggers):
            upload_files(run, run_dir, result_files(run_dir, subdirs))
    finish_wandb()
