"""What W&B shows of a run: its group, name, job type, tags and config, derived from the run's config.

A *launch* is one command: a multirun (all its jobs), or one run with the steps a curriculum or pipeline
opens. :func:`pin_launch` fixes its identity once, when the command starts, in the config's ``launch``
node, which the steps' configs copy:

- ``launch.group``, the W&B group: ``<preset or task>-<launch directory name>``, the launch directory being
  the multirun's sweep directory (``stage2_sweep-2026-12-07_16-57-54``) or the run directory
  (``pipeline-2026-12-07_16-57-54``). One sweep is one group; two launches of it are two.
- ``launch.name``, the run name: the method, learning rate and seed of what the command produces (a
  pipeline's stage 2), then the values its sweep varies besides these (``rankpo-lr1e-05-seed0-reference=none``).
  A step adds its path under the command's run directory (``…/stage1/round0/train``); a curriculum's or
  pipeline's own run ends in ``/summary``.
- ``launch.root``: that run directory.

Every run's config holds ``method``, ``lr`` and ``seed`` (what to group and plot by), ``launch`` (the group),
``task``, ``step``, the Hydra ``choices`` (``model: tiny_bert``) and the resolved nodes its task reads (those
of its config, which its task's root composed, less those that change no result: ``run_config.task_nodes``).
Tags carry the settings to filter on: the method, ``task=``, ``model=``, ``data=``, ``precision=``, ``lr=``,
``seed=`` (``curriculum=`` for the curriculum and pipeline), the preset names and the config's own ``tags``.
Values set in ``logger.wandb`` (``name``, ``group``, ``tags``, ``job_type``) win over the derived ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from jobmatch.app.run_config import task_nodes
from jobmatch.app.run_dir import fix_run_dir
from jobmatch.utils.wandb_upload import private_config, private_settings

log = logging.getLogger(__name__)
NAMING_GROUPS = ("experiment", "sweep", "hparams_search")  # config groups that name a campaign of runs
MAX_TAG = 64  # W&B's limit on a tag's length
MAX_GROUP = 128  # W&B's limit on a group's length
OPTIONS = ("private", "log_model", "log_files")  # keys of logger.wandb that jobmatch reads, not WandbLogger
# The W&B job type of each task's run: a curriculum's or pipeline's own run holds the combined results.
JOB_TYPES = {"train": "train", "evaluate": "eval", "annotate": "annotate", "audit": "audit",
             "curriculum": "summary", "pipeline": "summary"}


@dataclass(frozen=True)
class RunLabels:
    """What a run is, for grouping and plotting: the method (``stage.name``), learning rate and seed."""

    method: str
    lr: float | None
    seed: int | None

    def slug(self) -> str:
        """``rankpo-lr1e-05-seed0``."""
        parts = [self.method]
        parts += [f"lr{self.lr:g}"] if self.lr is not None else []
        parts += [f"seed{self.seed}"] if self.seed is not None else []
        return "-".join(parts)


@dataclass(frozen=True)
class HydraJob:
    """The running Hydra job of a multirun: its sweep directory, number, overrides and swept keys."""

    sweep_dir: str
    num: int
    overrides: dict[str, str]  # config key -> value, as the job's command line sets it
    swept: frozenset[str]  # config keys whose value varies across the sweep


def hydra_choices() -> dict[str, str]:
    """The config-group choices of the running Hydra job (``{"model": "minilm", ...}``); {} outside one."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    return {str(k): str(v) for k, v in HydraConfig.get().runtime.choices.items() if v is not None}


def _override_key(override: Any) -> str:
    """The config key an override sets: ``stage@stage2=sft`` sets ``stage2``, ``+sweep=seed`` ``sweep``."""
    return str(override.package or override.key_or_group)


def _swept_keys(params: Mapping[str, Any], command_line: list[str]) -> frozenset[str]:
    """Keys a sweep varies: its sweeper's ``params`` and the sweep overrides of its command line."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    keys = set()
    for text in [f"{k}={v}" for k, v in params.items()] + command_line:
        try:
            override = parser.parse_override(text)
        except Exception:  # another sweeper's syntax (Optuna's tag(log, interval(...))): a search space
            keys.add(text.split("=", 1)[0].lstrip("+~").split("@")[-1])
            continue
        if override.is_sweep_override():
            keys.add(_override_key(override))
    return frozenset(keys)


def hydra_job() -> HydraJob | None:
    """The running multirun job, None outside a multirun (a single run or no Hydra at all)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    hydra = HydraConfig.get()
    params = hydra.sweeper.get("params")
    params = OmegaConf.to_container(params, resolve=False) if OmegaConf.is_config(params) else {}
    saved = Path(str(hydra.sweep.dir)) / "multirun.yaml"  # the sweep's command line, saved before the jobs start
    command = (yaml.safe_load(saved.read_text()) or {}).get("hydra", {}).get("overrides", {}).get("task", []) \
        if saved.exists() else []
    overrides = {_override_key(o): o.get_value_element_as_str()
                 for o in OverridesParser.create().parse_overrides(list(hydra.overrides.task))}
    return HydraJob(str(hydra.sweep.dir), int(hydra.job.num), overrides, _swept_keys(params, list(command)))


def stage_labels(stage: Mapping[str, Any], seed: Any) -> RunLabels:
    """The labels of a run that trains ``stage``."""
    lr = (stage.get("optim") or {}).get("lr")
    return RunLabels(str(stage.get("name", "checkpoint")), float(lr) if lr is not None else None,
                     int(seed) if seed is not None else None)


def run_labels(cfg: DictConfig, task: str) -> RunLabels:
    """The labels of a ``task`` run: the stage it trains (train, curriculum), a pipeline's stage 2, or the
    stage that trained the checkpoint it evaluates, annotates with or audits (from the checkpoint's run
    directory; ``base`` for the untrained model)."""
    if task == "pipeline":
        return stage_labels(cfg.stage2, cfg.seed)
    if task in ("evaluate", "annotate", "audit"):
        ckpt = cfg.get("ckpt")
        if not ckpt:
            return RunLabels("base", None, int(cfg.seed))
        saved = Path(str(ckpt)).parent.parent / "config.yaml"  # <run_dir>/checkpoints/best.ckpt
        if not saved.exists():
            return RunLabels("checkpoint", None, int(cfg.seed))
        # the training run that wrote a checkpoint names the stage it trained `stage`, also as a pipeline's step
        return stage_labels((yaml.safe_load(saved.read_text()) or {}).get("stage") or {}, cfg.seed)
    return stage_labels(cfg.stage, cfg.seed)


def _short_value(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return f"{number:.4g}" if any(c in value for c in ".eE") else value


def swept_values(job: HydraJob | None, stage_key: str) -> list[str]:
    """``key=value`` for each key the sweep varies besides the method, lr and seed of ``stage_key``'s stage;
    the key's last part when that is unambiguous (``reference=none``), else the whole key."""
    if job is None:
        return []
    labelled = {stage_key, f"{stage_key}.name", f"{stage_key}.optim.lr", "seed"}
    keys = sorted(k for k in job.swept if k in job.overrides and k not in labelled)
    last = [k.rsplit(".", 1)[-1] for k in keys]
    shown = [s if last.count(s) == 1 and s not in ("lr", "seed", "name") else k
             for k, s in zip(keys, last, strict=True)]
    return [f"{s}={_short_value(job.overrides[k])}" for k, s in zip(keys, shown, strict=True)]


def launch_group(cfg: DictConfig, choices: Mapping[str, str], job: HydraJob | None) -> str:
    """``<presets or task>-<sweep or run directory name>``."""
    campaign = "+".join(choices[g] for g in NAMING_GROUPS if choices.get(g)) or str(cfg.get("task_name", "train"))
    where = Path(job.sweep_dir if job else str(cfg.paths.run_dir)).name
    return f"{campaign}-{where}"[:MAX_GROUP]


def pin_launch(cfg: DictConfig, task: str) -> None:
    """Fill the config's null ``launch.group``, ``launch.name`` and ``launch.root`` for a command that starts
    (a curriculum's or pipeline's steps find them set and keep them)."""
    launch = cfg.get("launch") or {}
    if launch.get("group") and launch.get("name") and launch.get("root"):
        return
    run_dir = fix_run_dir(cfg)
    job = hydra_job()
    labels = run_labels(cfg, task)
    name = "-".join([labels.slug(), *swept_values(job, "stage2" if task == "pipeline" else "stage")])
    with open_dict(cfg):
        cfg.launch = {"group": launch.get("group") or launch_group(cfg, hydra_choices(), job),
                      "name": launch.get("name") or name, "root": launch.get("root") or str(run_dir)}


def run_step(cfg: DictConfig) -> str:
    """The run directory's path under the command's (``stage1/round0/train``); "" for the command's own run."""
    launch = cfg.get("launch") or {}
    if not launch.get("root"):
        return ""
    run_dir, root = Path(str(cfg.paths.run_dir)).absolute(), Path(str(launch.root)).absolute()
    if run_dir == root or not run_dir.is_relative_to(root):
        return ""
    return run_dir.relative_to(root).as_posix()


def run_name(cfg: DictConfig, task: str, labels: RunLabels) -> str:
    """The launch's name, then the step's path, then ``/summary`` for a curriculum's or pipeline's own run."""
    launch = cfg.get("launch") or {}
    parts = [str(launch.get("name") or labels.slug())]
    parts += [step] if (step := run_step(cfg)) else []
    parts += ["summary"] if JOB_TYPES[task] == "summary" else []
    return "/".join(parts)


def run_choices(cfg: DictConfig, choices: Mapping[str, str]) -> dict[str, str]:
    """The Hydra choices of the groups the run's task reads (its config's nodes; ``stage@stage2`` as ``stage2``),
    the presets and ``debug``; the ``stage`` choice follows the stage the run trains (a pipeline's stage-2 step trains
    ``stage@stage2``)."""
    keys = set(task_nodes(cfg)) | set(NAMING_GROUPS) | {"debug"}
    picked = {}
    for group, value in choices.items():
        if group.startswith("hydra/"):
            continue
        key = group.split("@", 1)[-1].split("/", 1)[0]
        if key in keys:
            picked[group] = value
    stage = cfg.get("stage")
    if "stage" in picked and stage is not None and picked["stage"] != str(stage.get("name")):
        picked.pop("stage")  # a file of another name (a preset), or the pipeline's stage 1 in its stage-2 step
        if choices.get("stage@stage2") == str(stage.get("name")):
            picked["stage"] = choices["stage@stage2"]
    return dict(sorted(picked.items()))


def wandb_config(cfg: DictConfig, task: str, labels: RunLabels, choices: Mapping[str, str]) -> dict[str, Any]:
    """The config a W&B run logs: labels, launch, step, choices and the resolved nodes ``task`` reads."""
    launch = cfg.get("launch") or {}
    config: dict[str, Any] = {
        "method": labels.method, "lr": labels.lr, "seed": labels.seed, "launch": launch.get("group"),
        "task": str(cfg.get("task_name", task)), "step": run_step(cfg), "choices": run_choices(cfg, choices),
    }
    for key in task_nodes(cfg):
        if key not in config and cfg.get(key) is not None:
            config[key] = OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key]) \
                else cfg[key]
    return config


def task_config(cfg: DictConfig, task: str) -> dict[str, Any]:
    """:func:`wandb_config` of the run's own labels and the running job's choices (what CSV's hparams get)."""
    return wandb_config(cfg, task, run_labels(cfg, task), hydra_choices())


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


def wandb_tags(cfg: DictConfig, labels: RunLabels, choices: Mapping[str, str]) -> list[str]:
    """The tags of a run (see the module docstring)."""
    command = str(cfg.get("task_name", "train"))
    tags = [labels.method, f"task={command}"]
    tags.append(f"model={choices.get('model') or model_short_name(cfg.model)}")
    tags.append(f"data={choices.get('data') or data_name(cfg.data)}")
    if command in ("curriculum", "pipeline") and cfg.get("curriculum") is not None:
        tags.append(f"curriculum={cfg.curriculum.mode}")
    tags.append(f"precision={cfg.trainer.precision}")
    if labels.lr is not None:
        tags.append(f"lr={labels.lr:g}")
    tags.append(f"seed={cfg.seed}")
    tags += [f"{g}={choices[g]}" for g in NAMING_GROUPS if choices.get(g)]
    tags += [str(t) for t in cfg.get("tags") or []]
    return _unique(tags)


def wandb_init_kwargs(
    spec: Mapping[str, Any], cfg: DictConfig, task: str, labels: RunLabels | None = None,
    choices: Mapping[str, str] | None = None, private: bool = False,
) -> dict[str, Any]:
    """Keyword arguments for a WandbLogger whose node (resolved, without :data:`OPTIONS`) is ``spec``: the
    derived name, group, job type and tags where ``spec`` leaves them null, the config, and with ``private``
    the privacy settings (:mod:`jobmatch.utils.wandb_upload`)."""
    labels = labels or run_labels(cfg, task)
    choices = hydra_choices() if choices is None else dict(choices)
    launch = cfg.get("launch") or {}
    derived = {"name": run_name(cfg, task, labels), "group": launch.get("group") or labels.slug(),
               "job_type": JOB_TYPES[task], "tags": wandb_tags(cfg, labels, choices)}
    extra = {k: v for k, v in derived.items() if spec.get(k) is None}
    config = wandb_config(cfg, task, labels, choices)
    extra["config"] = private_config(config) if private else config
    if private:
        extra["settings"] = private_settings(spec.get("settings"))
    return extra


def is_wandb(node: Mapping[str, Any]) -> bool:
    """Whether a logger node builds Lightning's WandbLogger."""
    return str(node.get("_target_", "")).endswith("WandbLogger")
