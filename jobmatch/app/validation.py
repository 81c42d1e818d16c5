"""Check a composed config before a task starts: types, ranges, choices and misspelt keys.

:func:`validate_config` runs first in every Hydra task (train, evaluate, mine, annotate,
curriculum, pipeline), so that a typo or an out-of-range value fails at once with one line,
``option=value: problem; fix``, instead of being ignored or failing deep inside a run. Known keys
are those the config group files under ``conf/`` define, so a key added there is known here too.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from jobmatch.annotate.sampling import SAMPLERS
from jobmatch.app.config_tree import config_dir
from jobmatch.app.option_checks import check_precision, check_synthetic, check_token_limits, check_training_length
from jobmatch.app.rules import Choice, IntList, Num, Rule, Subset, closest, is_number, show
from jobmatch.errors import ConfigError
from jobmatch.losses import loss_types
from jobmatch.losses.rankpo import REFERENCE_MODES, validate_preference_options
from jobmatch.model.encoder import COMPILE_MODES
from jobmatch.model.pooling import POOLINGS
from jobmatch.retrieval.mining import STRATEGIES
from jobmatch.retrieval.search import INDEX_KINDS

CONF_DIR = config_dir()
_ABSENT = object()
POSITIVE = Num(low=0, low_open=True)
FRACTION = Num(low=0, high=1, high_open=True)
RATIO = Num(low=0, high=1)
# (option, rule, an example of a good value for the fix)
DATA_RULES: list[tuple[str, Rule, str]] = [
    ("on_error", Choice(("raise", "skip")), "skip"),
    ("val_fraction", FRACTION, "0.1"),
    ("n_negatives", Num(low=0, integer=True), "5"),
    ("batch_size", Num(low=1, integer=True), "8"),
    ("eval_batch_size", Num(low=1, integer=True), "32"),
    ("max_query_length", Num(low=1, integer=True), "256"),
    ("max_passage_length", Num(low=1, integer=True), "256"),
    ("num_workers", Num(low=0, integer=True), "0"),
    ("pad_to_multiple_of", Num(low=1, integer=True, nullable=True), "8"),
    ("preference_val_fraction", FRACTION, "0.1"),
    ("preference_test_fraction", FRACTION, "0.2"),
    ("preference_split_seed", Num(integer=True), "0"),
    ("min_confidence", Num(low=0, high=100, nullable=True), "50"),
]
STAGE_RULES: list[tuple[str, Rule, str]] = [
    ("temperature", POSITIVE, "0.02"),
    ("chunk_size", Num(low=1, integer=True, nullable=True), "64"),
    ("monitor_mode", Choice(("min", "max")), "max"),
    ("optim.lr", POSITIVE, "1e-4"),
    ("optim.weight_decay", Num(low=0), "0.01"),
    ("optim.warmup_ratio", RATIO, "0.1"),
    ("optim.warmup_steps", Num(low=0, integer=True, nullable=True), "100"),
    ("optim.min_lr_ratio", RATIO, "0.0"),
    ("reference", Choice(REFERENCE_MODES), "frozen"),
    ("beta", POSITIVE, "2.0"),
    ("gamma_beta_ratio", Num(), "0.0"),
    ("label_smoothing", Num(low=0, high=0.5, high_open=True), "0.0"),
    ("rankpo_weight", Num(low=0), "1.0"),
    ("sft_weight", Num(low=0), "0.0"),
    ("eval_ckpt", Choice(("best", "last")), "best"),
]
TRAINER_RULES: list[tuple[str, Rule, str]] = [
    ("max_epochs", Num(low=-1, integer=True, nullable=True), "2"),
    ("max_steps", Num(low=-1, integer=True), "-1"),
    ("accumulate_grad_batches", Num(low=1, integer=True), "1"),
    ("gradient_clip_val", Num(low=0, nullable=True), "1.0"),
    ("log_every_n_steps", Num(low=1, integer=True), "5"),
    ("check_val_every_n_epoch", Num(low=1, integer=True, nullable=True), "1"),
]
OTHER_RULES: list[tuple[str, Rule, str]] = [
    ("seed", Num(integer=True), "42"),
    ("model.compile", Choice(COMPILE_MODES, nullable=True), "default"),
    ("model.pooling", Choice(POOLINGS), "mean"),
    ("model.lora.r", Num(low=1, integer=True), "8"),
    ("trainer2.max_epochs", Num(low=1, integer=True, nullable=True), "3"),
    ("eval.k", Num(low=1, integer=True), "100"),
    ("eval.cutoffs", IntList(), "[1,5,10,20,100]"),
    ("eval.val_cutoffs", IntList(), "[10,20,100]"),
    ("eval.batch_size", Num(low=1, integer=True), "64"),
    ("eval.index", Choice(("auto", *INDEX_KINDS)), "auto"),
    ("eval.baselines", Subset(("base", "bm25")), "[base,bm25]"),
    ("mining.window_start", Num(low=0, integer=True), "0"),
    ("mining.window_end", Num(low=1, integer=True), "100"),
    ("mining.n_negatives", Num(low=1, integer=True), "10"),
    ("mining.strategy", Choice(STRATEGIES), "topk"),
    ("mining.n_clusters", Num(low=1, integer=True), "10"),
    ("mining.cluster_lambda", Num(low=0, high=1, low_open=True), "0.5"),
    ("mining.margin", Num(low=0, low_open=True, nullable=True), "0.95"),
    ("annotate.splits", Subset(("train", "val", "test"), min_len=1), "[train,val,test]"),
    ("annotate.top_k", Num(low=2, integer=True), "100"),
    ("annotate.pairs_per_query", Num(low=1, integer=True), "10"),
    ("annotate.test_pairs_per_query", Num(low=1, integer=True, nullable=True), "20"),
    ("annotate.min_success", RATIO, "0.9"),
    ("annotate.sampler", Choice(SAMPLERS), "uniform"),
    ("annotate.held_out_sampler", Choice(SAMPLERS, nullable=True), "uniform"),
    ("curriculum.rounds", Num(low=0, integer=True), "2"),
    ("curriculum.init", Choice(("previous", "base")), "previous"),
    ("curriculum.later_epochs", Num(low=1, integer=True, nullable=True), "1"),
]
# Config nodes whose keys must be known: node -> (config group under conf/, key path inside its files).
KEYED_NODES: dict[str, tuple[str, str]] = {
    "data": ("data", ""),
    "data.synthetic": ("data", "synthetic"),
    "stage": ("stage", ""),
    "stage.optim": ("stage", "optim"),
    "stage2": ("stage", ""),
    "stage2.optim": ("stage", "optim"),
    "eval": ("eval", ""),
    "mining": ("mining", ""),
    "annotate": ("pairs", ""),
    "curriculum": ("curriculum", ""),
    "model": ("model", ""),
    "model.lora": ("model", "lora"),
    "judge": ("judge", ""),
    "fairness": ("fairness", ""),
}
# Optimizer options that jobmatch.modules.optim reads but no stage file sets.
EXTRA_KEYS = {"stage.optim": {"betas", "eps", "warmup_steps"}, "stage2.optim": {"betas", "eps", "warmup_steps"}}

CURRICULUM_MODES = ("none", "incremental", "combined")  # stage 1 alone, or its mining rounds


def validate_config(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` on the first bad option of ``cfg``; nodes a task lacks are skipped.

    Raises:
        ConfigError: ``option=value: problem; fix`` (for a misspelt key: the closest known key).
    """
    for node in KEYED_NODES:
        check_known_keys(cfg, node)
    check_trainer_keys(cfg)
    checks = [(f"data.{key}", rule, ex) for key, rule, ex in DATA_RULES]
    for node in ("stage", "stage2"):
        import_loss_module(cfg, node)  # first: the loss types it registers are then known
    stage_rules = [*STAGE_RULES, ("loss_type", Choice(loss_types()), "sigmoid")]
    checks += [(f"{node}.{key}", rule, ex) for node in ("stage", "stage2") for key, rule, ex in stage_rules]
    checks += [(f"trainer.{key}", rule, ex) for key, rule, ex in TRAINER_RULES]
    for option, rule, example in checks + OTHER_RULES:
        check_option(cfg, option, rule, example)
    check_curriculum_mode(cfg)
    check_synthetic(cfg)
    check_precision(cfg)
    check_training_length(cfg)
    check_token_limits(cfg)
    check_cutoffs(cfg)
    check_mining_window(cfg)
    for node in ("stage", "stage2"):
        check_preference_options(cfg, node)


def lookup(cfg: DictConfig, option: str) -> Any:
    """The resolved value at a dotted path as plain Python, or ``_ABSENT``."""
    value = OmegaConf.select(cfg, option, default=_ABSENT)
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


def check_option(cfg: DictConfig, option: str, rule: Rule, example: str) -> None:
    """One option against its rule (absent options are not checked)."""
    value = lookup(cfg, option)
    if value is _ABSENT:
        return
    problem = rule.problem(value)
    if problem:
        near = rule.suggest(value)
        fix = f"did you mean {option}={near}?" if near else f"pass e.g. {option}={example}"
        raise ConfigError(f"{option}={show(value)}: {problem}; {fix}")


def check_curriculum_mode(cfg: DictConfig) -> None:
    """``curriculum.mode`` is one of the curriculum's modes."""
    check_option(cfg, "curriculum.mode", Choice(CURRICULUM_MODES), "incremental")


@functools.cache
def group_keys(group: str, inner: str) -> frozenset[str] | None:
    """Every key that some file of config group ``group`` defines at ``inner`` (None: no conf/ folder)."""
    folder = CONF_DIR / group
    if not folder.is_dir():
        return None
    keys: set[str] = set()
    for path in folder.glob("*.yaml"):
        node = OmegaConf.load(path)
        node = OmegaConf.select(node, inner) if inner else node
        if isinstance(node, DictConfig):
            keys.update(str(k) for k in node if k != "defaults")
    return frozenset(keys)


def check_known_keys(cfg: DictConfig, node: str) -> None:
    """Every key of ``node`` is one that its config group defines (a misspelt ``+key`` is caught here)."""
    value = OmegaConf.select(cfg, node, default=None)
    known = group_keys(*KEYED_NODES[node])
    if not isinstance(value, DictConfig) or known is None:
        return
    report_unknown(node, value, known | EXTRA_KEYS.get(node, set()))


def check_trainer_keys(cfg: DictConfig) -> None:
    """Every key of a Lightning ``trainer`` node is an argument of ``lightning.pytorch.Trainer``."""
    node = cfg.get("trainer")
    if not isinstance(node, DictConfig) or node.get("_target_") != "lightning.pytorch.Trainer":
        return
    from lightning.pytorch import Trainer

    known = set(inspect.signature(Trainer.__init__).parameters) - {"self"}
    report_unknown("trainer", node, known | {"_target_"})


def report_unknown(node: str, value: DictConfig, known: Iterable[str]) -> None:
    """Raise for the first key of ``value`` not in ``known``, suggesting the closest known key."""
    known = sorted(known)
    for key in value:
        if key in known:
            continue
        near = closest(str(key), known)
        fix = f"did you mean {node}.{near}?" if near else f"known options: {', '.join(known)}"
        shown = show(lookup(value, str(key)))
        raise ConfigError(f"{node}.{key}={shown}: unknown option; {fix}")


def check_cutoffs(cfg: DictConfig) -> None:
    """Metric cutoffs above ``eval.k`` would be computed on the top k only: refuse them."""
    k, cutoffs = lookup(cfg, "eval.k"), lookup(cfg, "eval.cutoffs")
    if k is _ABSENT or cutoffs is _ABSENT:
        return
    above = [c for c in cutoffs if c > k]
    if above:
        raise ConfigError(
            f"eval.cutoffs={show(cutoffs)}: cutoff {above[-1]} is above eval.k={k} (only {k} "
            f"passages are retrieved per JD, so @{above[-1]} would equal @{k}); "
            f"pass eval.k={max(above)} or drop the cutoffs above {k}"
        )


def check_mining_window(cfg: DictConfig) -> None:
    """The mining rank window [start, end) is not empty."""
    start, end = lookup(cfg, "mining.window_start"), lookup(cfg, "mining.window_end")
    if is_number(start) and is_number(end) and end <= start:
        raise ConfigError(
            f"mining.window_end={end}: the window [{start}, {end}) is empty; "
            f"pass mining.window_end above mining.window_start={start}"
        )


def import_loss_module(cfg: DictConfig, node: str) -> None:
    """Import ``<node>.loss_module``, the module that registers a stage-2 loss type that is not built in
    (:mod:`jobmatch.losses.registry`); null or absent imports nothing.

    Raises:
        ConfigError: the module cannot be imported.
    """
    name = OmegaConf.select(cfg, f"{node}.loss_module", default=None)
    if not name:
        return
    try:
        importlib.import_module(str(name))
    except ImportError as err:
        raise ConfigError(f"{node}.loss_module={name}: cannot import it ({err}); put its folder on PYTHONPATH, "
                          f"or pass {node}.loss_module=null for a built-in stage.loss_type") from None


def check_preference_options(cfg: DictConfig, node: str) -> None:
    """Stage-2 option combinations (``jobmatch.losses.validate_preference_options``) as one line."""
    stage = cfg.get(node)
    if not isinstance(stage, DictConfig) or stage.get("module") != "rankpo":
        return
    options = {
        key: stage[key]
        for key in ("loss_type", "label_smoothing", "soft_labels", "reference", "beta", "temperature",
                    "gamma_beta_ratio", "rankpo_weight", "sft_weight")
        if key in stage
    }
    lora = bool(OmegaConf.select(cfg, "model.lora.enabled", default=True))
    try:
        validate_preference_options(options, lora_enabled=lora)
    except ValueError as err:
        problems = [line.strip() for line in str(err).splitlines()[1:] if line.strip()] or [str(err)]
        raise ConfigError(one_line(problems[0].replace("stage.", f"{node}."))) from None


def one_line(problem: str) -> str:
    """``stage.x=v problem: fix`` (the loss module's wording) as ``stage.x=v: problem; fix``."""
    head, _, rest = problem.partition(" ")
    if "=" not in head or not rest:
        return problem
    text, sep, fix = rest.rpartition(": ")
    return f"{head.rstrip(':')}: {text}; {fix}" if sep else f"{head.rstrip(':')}: {rest}"
