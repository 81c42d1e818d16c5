"""Check a composed config before a task starts: types, ranges, choices and misspelt keys.

:func:`validate_config` runs first in every Hydra task (train, evaluate, mine, annotate,
curriculum, pipeline), so that a typo or an out-of-range value fails at once with one line,
``option=value: problem; fix``, instead of being ignored or failing deep inside a run. What a node may hold and
what each value must be come from the group schemas (:mod:`jobmatch.app.schema`); the checks across options that
a schema cannot express are the small functions below and in :mod:`jobmatch.app.option_checks`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Iterator
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from jobmatch.app.option_checks import check_precision, check_synthetic, check_token_limits, check_training_length
from jobmatch.app.schema import GROUPS, ROOT_SCHEMA
from jobmatch.app.schema.names import option_message
from jobmatch.errors import ConfigError, OptionError
from jobmatch.losses import loss_variant, validate_preference_options
from jobmatch.losses.options import PreferenceOptions
from jobmatch.losses.rankpo import PREFERENCE_OPTION_NAMES
from jobmatch.retrieval.mining import MiningConfig
from jobmatch.utils.option_rules import Rule, closest, option_specs, show

_ABSENT = object()
# (path, schema, node, open_keys): a composed node and the dataclass it follows
SchemaNode = tuple[str, type, DictConfig, bool]


def validate_config(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` on the first bad option of ``cfg``; nodes a task lacks are skipped.

    Raises:
        ConfigError: ``option=value: problem; fix`` (for a misspelt key: the closest known key).
    """
    for node in ("stage", "stage2"):
        import_loss_module(cfg, node)  # first: the loss types it registers (and their own options) are then known
        check_loss_type(cfg, node)  # then: an unknown type, not the options of its preset, is the problem named
    nodes = list(schema_nodes(cfg))
    for path, schema, value, open_keys in nodes:
        if not open_keys:
            report_unknown(path, value, [spec.name for spec in option_specs(schema)], sibling_options(path, schema))
    check_trainer_keys(cfg)
    for path, schema, _, _ in [("", ROOT_SCHEMA, cfg, True), *nodes]:
        for spec in option_specs(schema):
            if spec.rule is not None:
                check_option(cfg, f"{path}.{spec.name}" if path else spec.name, spec.rule, spec.example)
    check_synthetic(cfg)
    check_precision(cfg)
    check_training_length(cfg)
    check_token_limits(cfg)
    check_cutoffs(cfg)
    check_mining(cfg)
    for node in ("stage", "stage2"):
        check_preference_options(cfg, node)


def check_loss_type(cfg: DictConfig, node: str) -> None:
    """A stage-2 node's ``loss_type`` is registered (its variant's own options are known only then)."""
    stage = cfg.get(node)
    if isinstance(stage, DictConfig) and stage.get("module") == "rankpo":
        spec = next(spec for spec in option_specs(PreferenceOptions) if spec.name == "loss_type")
        check_option(cfg, f"{node}.loss_type", spec.rule, spec.example)  # type: ignore[arg-type]


def schema_nodes(cfg: DictConfig) -> Iterator[SchemaNode]:
    """(path, schema, node, open_keys) of every group node ``cfg`` holds and of the nested option groups in them
    (``stage.optim``, ``model.lora``, ``data.synthetic``)."""
    for group in GROUPS:
        for path in group.nodes:
            value = OmegaConf.select(cfg, path, default=None)
            if isinstance(value, DictConfig):
                yield from nested_nodes(path, group.schema_of(value), value, group.open_keys)


def nested_nodes(path: str, schema: type, value: DictConfig, open_keys: bool) -> Iterator[SchemaNode]:
    """``(path, schema, value, open_keys)`` and the same for each nested option group ``value`` holds."""
    yield path, schema, value, open_keys
    for spec in option_specs(schema):
        inner = value.get(spec.name) if spec.name in value else None
        if spec.schema is not None and isinstance(inner, DictConfig):
            yield from nested_nodes(f"{path}.{spec.name}", spec.schema, inner, False)


def sibling_options(path: str, schema: type) -> dict[str, str]:
    """The options of the other schemas of ``path``'s group (another judge, the other stage), by name: the schema
    that declares each, so that a typo of one of them is named even where the composed preset lacks it."""
    group = next((g for g in GROUPS if path in g.nodes), None)
    if group is None:
        return {}
    return {spec.name: other.__name__ for other in group.schemas if other is not schema
            for spec in option_specs(other)}


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


def check_trainer_keys(cfg: DictConfig) -> None:
    """Every key of a Lightning ``trainer`` node is an argument of ``lightning.pytorch.Trainer``."""
    node = cfg.get("trainer")
    if not isinstance(node, DictConfig) or node.get("_target_") != "lightning.pytorch.Trainer":
        return
    from lightning.pytorch import Trainer

    known = set(inspect.signature(Trainer.__init__).parameters) - {"self"}
    report_unknown("trainer", node, known | {"_target_"})


def report_unknown(node: str, value: DictConfig, known: Iterable[str], elsewhere: dict[str, str] | None = None) -> None:
    """Raise for the first key of ``value`` not in ``known``, suggesting the closest known key, else the closest
    key of ``elsewhere`` (option -> the schema of another preset that declares it)."""
    known, elsewhere = sorted(known), elsewhere or {}
    for key in value:
        if key in known:
            continue
        near = closest(str(key), known)
        other = None if near else closest(str(key), sorted(elsewhere))
        if near:
            fix = f"did you mean {node}.{near}?"
        elif other:
            fix = f"did you mean {node}.{other}? (an option of {elsewhere[other]}, another preset of this group)"
        else:
            fix = f"known options: {', '.join(known)}"
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


def check_mining(cfg: DictConfig) -> None:
    """The ``mining`` node builds the library's :class:`MiningConfig` (which refuses an empty rank window)."""
    node = lookup(cfg, "mining")
    if not isinstance(node, dict):
        return
    try:
        MiningConfig(**node)
    except OptionError as error:
        raise ConfigError(option_message(error, "mining")) from None


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
    """Stage-2 option combinations (:func:`jobmatch.losses.validate_preference_options`) as one line, the
    library's arguments named as the options that set them."""
    stage = cfg.get(node)
    if not isinstance(stage, DictConfig) or stage.get("module") != "rankpo":
        return
    options = {key: stage[key] for key in PREFERENCE_OPTION_NAMES if key in stage}
    own = loss_variant(str(options.get("loss_type", "sigmoid"))).option_names()
    lora = bool(OmegaConf.select(cfg, "model.lora.enabled", default=True))
    try:
        validate_preference_options(options, lora_enabled=lora, loss_options={k: stage[k] for k in own if k in stage})
    except OptionError as err:
        raise ConfigError(option_message(err, node)) from None
