"""W&B group and tags derived from a run's config, so that the dashboard can compare sweeps.

The group names what a run belongs to: the experiment preset and/or sweep it was launched with
(``experiment=stage2_sweep``, ``+sweep=seed``, ``+hparams_search=optuna_rankpo``), else the entry
point (``train``), followed by the stage (``stage2_sweep-rankpo``). Runs of one method in one sweep
thus share a group, and W&B draws them together. Tags carry the settings to filter on:
stage, ``model=``, ``data=``, ``precision=``, ``lr=``, ``seed=`` (plus ``curriculum=`` for the
curriculum and pipeline), the preset names, and the config's own ``tags``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

NAMING_GROUPS = ("experiment", "sweep", "hparams_search")  # config groups that name a campaign of runs
MAX_TAG = 64  # W&B's limit on a tag's length


def hydra_choices() -> dict[str, str]:
    """The config-group choices of the running Hydra job (``{"model": "minilm", ...}``); {} outside one."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    return {str(k): str(v) for k, v in HydraConfig.get().runtime.choices.items() if v is not None}


def model_short_name(model: Mapping[str, Any]) -> str:
    """A short name for a model config without its group choice: the weights' last path part, or
    ``random-<model_type>`` for a randomly initialised one."""
    source = str(model.get("name_or_path") or "")
    if source:
        parts = [p for p in source.removeprefix("pypi:").replace("\\", "/").split("/") if p and p != "model"]
        return parts[-1] if parts else source
    config = model.get("config") or {}
    return f"random-{config.get('model_type', 'model')}"


def data_name(data: Mapping[str, Any]) -> str:
    """The synthetic preset's name, or ``jsonl`` for plain files."""
    synthetic = data.get("synthetic")
    return str(synthetic.get("preset")) if synthetic else "jsonl"


def _unique(tags: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        if tag and tag[:MAX_TAG] not in seen:
            seen[tag[:MAX_TAG]] = None
    return list(seen)


def wandb_group_and_tags(cfg: DictConfig, choices: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """The W&B ``group`` and ``tags`` of a run.

    Args:
        cfg: the run's composed config (``stage``, ``model``, ``data``, ``trainer``, ``seed``, ``tags``).
        choices: Hydra's config-group choices; None reads them from the running Hydra job (if any).
    """
    choices = hydra_choices() if choices is None else dict(choices)
    task = str(cfg.get("task_name", "train"))
    stage = str(cfg.stage.name)
    campaign = [choices[g] for g in NAMING_GROUPS if choices.get(g)]
    group = f"{'+'.join(campaign) or task}-{stage}"
    tags = [stage, f"task={task}"]
    tags.append(f"model={choices.get('model') or model_short_name(cfg.model)}")
    tags.append(f"data={choices.get('data') or data_name(cfg.data)}")
    if task in ("curriculum", "pipeline") and cfg.get("curriculum") is not None:
        tags.append(f"curriculum={cfg.curriculum.mode}")
    tags.append(f"precision={cfg.trainer.precision}")
    lr = (cfg.stage.get("optim") or {}).get("lr")
    if lr is not None:
        tags.append(f"lr={float(lr):g}")
    tags.append(f"seed={cfg.seed}")
    tags += [f"{g}={choices[g]}" for g in NAMING_GROUPS if choices.get(g)]
    tags += [str(t) for t in cfg.get("tags") or []]
    return group, _unique(tags)


def apply_wandb_meta(node: DictConfig, cfg: DictConfig) -> dict[str, Any]:
    """Keyword arguments that fill a WandbLogger node's null ``group``/``tags`` with the derived ones
    (values set explicitly, e.g. ``logger.wandb.group=mine``, are kept)."""
    group, tags = wandb_group_and_tags(cfg)
    extra: dict[str, Any] = {}
    if node.get("group") is None:
        extra["group"] = group
    if node.get("tags") is None:
        extra["tags"] = tags
    return extra


def is_wandb(node: Mapping[str, Any]) -> bool:
    """Whether a logger node builds Lightning's WandbLogger."""
    return str(node.get("_target_", "")).endswith("WandbLogger")
