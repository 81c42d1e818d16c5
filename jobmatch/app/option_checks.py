"""Option checks that need more than a rule per value: the synthetic data's settings, the trainer's
precision and length, and token limits against the model's positions.

Each raises :class:`ConfigError` (``option=value: problem; fix``) before any data or weights load;
:func:`jobmatch.app.validation.validate_config` calls them.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from jobmatch.app.schema.names import option_message
from jobmatch.errors import ConfigError, OptionError
from jobmatch.utils.option_rules import closest, is_number, show


def plain(cfg: DictConfig, option: str) -> Any:
    """The resolved value at a dotted path as plain Python (``None`` when absent)."""
    value = OmegaConf.select(cfg, option, default=None)
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def check_synthetic(cfg: DictConfig) -> None:
    """``data.synthetic``: an integer seed, known ``overrides`` keys (with the nearest one for a typo) and
    values the generator accepts; checked by building the generator's config, which generates nothing."""
    spec = plain(cfg, "data.synthetic")
    if not isinstance(spec, Mapping):
        return
    from jobmatch.data.synthetic.config import PRESETS, SyntheticConfig, preset

    seed = spec.get("seed", 0)
    if not is_number(seed, integer=True):
        raise ConfigError(f"data.synthetic.seed={show(seed)}: expected an integer; pass e.g. data.synthetic.seed=0")
    name = str(spec.get("preset"))
    if name not in PRESETS:
        near = closest(name, sorted(PRESETS))
        fix = f"did you mean data.synthetic.preset={near}?" if near else f"choose one of {', '.join(PRESETS)}"
        raise ConfigError(f"data.synthetic.preset={name}: unknown preset; {fix}")
    overrides = spec.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"data.synthetic.overrides={show(overrides)}: expected a mapping of generator options; "
                          "pass e.g. 'data.synthetic.overrides={n_talents: 2000}'")
    fields = sorted(f.name for f in dataclasses.fields(SyntheticConfig) if f.name != "seed")
    for key, value in overrides.items():
        if key not in fields:
            near = closest(str(key), fields)
            fix = f"did you mean data.synthetic.overrides.{near}?" if near else f"known options: {', '.join(fields)}"
            raise ConfigError(f"data.synthetic.overrides.{key}={show(value)}: unknown option; {fix}")
    try:
        preset(name, seed=seed, **overrides)
    except OptionError as error:
        raise ConfigError(option_message(error, "data.synthetic.overrides")) from None
    except (TypeError, ValueError) as error:  # a value of the wrong type, met by a comparison
        raise ConfigError(f"data.synthetic.overrides={show(overrides)}: {error}; pass values of the option's "
                          "type") from None


def precision_values() -> tuple[str, ...]:
    """Every ``trainer.precision`` Lightning accepts, as written on the command line."""
    from lightning.fabric.connector import _PRECISION_INPUT_INT, _PRECISION_INPUT_STR, _PRECISION_INPUT_STR_ALIAS

    kinds = (_PRECISION_INPUT_STR, _PRECISION_INPUT_STR_ALIAS, _PRECISION_INPUT_INT)
    return tuple(dict.fromkeys(str(v) for kind in kinds for v in typing.get_args(kind)))


def check_precision(cfg: DictConfig) -> None:
    """``trainer.precision`` (and ``trainer2.precision``) is one Lightning knows, refused before data load."""
    for node in ("trainer", "trainer2"):
        value = plain(cfg, f"{node}.precision")
        if value is None:
            continue
        allowed = precision_values()
        if str(value) not in allowed:
            near = closest(str(value), allowed)
            fix = f"did you mean {node}.precision={near}?" if near else "pass e.g. trainer.precision=32-true"
            raise ConfigError(f"{node}.precision={show(value)}: expected one of {', '.join(allowed)}; {fix}")


def check_training_length(cfg: DictConfig) -> None:
    """``max_steps=0`` or ``max_epochs=0`` would train nothing yet mark the run finished without a checkpoint."""
    for node in ("trainer", "trainer2"):
        for option, fix in (("max_steps", "-1 (no step limit) or a positive number"),
                            ("max_epochs", "a positive number of epochs")):
            value = plain(cfg, f"{node}.{option}")
            if is_number(value) and value == 0:
                raise ConfigError(f"{node}.{option}=0: trains nothing (the run would end at once, with no checkpoint); "
                                  f"pass {node}.{option}={fix}")


def model_positions(model: Mapping[str, Any]) -> tuple[int, str] | None:
    """(positions, where that number comes from) of a model config: ``max_position_embeddings`` of its
    inline ``config``, else of the ``config.json`` of a local ``name_or_path``; ``None`` when unknown
    without loading (a hub id, a GGUF file)."""
    from transformers import AutoConfig

    from jobmatch.model.sources import resolve_model_source

    inline = model.get("config")
    try:
        if isinstance(inline, Mapping):
            hf = AutoConfig.for_model(**dict(inline))
            where = "model.config"
        elif model.get("name_or_path") and not model.get("gguf_file"):
            source = Path(resolve_model_source(str(model["name_or_path"])))
            if not (source / "config.json").is_file():
                return None
            hf = AutoConfig.from_pretrained(str(source))
            where = f"{source / 'config.json'}"
        else:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # the model's own loading explains a bad model config
    positions = getattr(hf, "max_position_embeddings", None)
    return (int(positions), where) if is_number(positions, integer=True) else None


def check_token_limits(cfg: DictConfig) -> None:
    """``data.max_query_length`` and ``data.max_passage_length`` fit the model's position embeddings."""
    model = plain(cfg, "model")
    limits = {key: plain(cfg, f"data.{key}") for key in ("max_query_length", "max_passage_length")}
    if not isinstance(model, Mapping) or not any(is_number(v, integer=True) for v in limits.values()):
        return
    found = model_positions(model)
    if found is None:
        return
    positions, where = found
    for key, value in limits.items():
        if is_number(value, integer=True) and value > positions:
            raise ConfigError(f"data.{key}={value}: beyond the model's {positions} positions "
                              f"(max_position_embeddings in {where}); pass data.{key}={positions} or less")
