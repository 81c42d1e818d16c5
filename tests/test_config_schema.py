"""The group schemas (jobmatch.app.schema) and the YAML presets agree: every key a preset sets is an option of its
group's schema, a base preset sets exactly the schema's defaults, and every option has a type, a doc and, where
its values are limited, a rule that the shipped presets pass."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from jobmatch.app.schema import GROUPS, Group, walk_specs
from jobmatch.utils.option_rules import OptionSpec, option_specs
from tests.helpers import CONF

PRESETS = [(group, path) for group in GROUPS for path in sorted((CONF / group.name).glob("*.yaml"))]


def raw(path: Path) -> dict[str, Any]:
    """A preset file as written (interpolations unresolved), without its defaults list."""
    node = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    assert isinstance(node, dict)
    node.pop("defaults", None)
    return node


def composed(path: Path) -> dict[str, Any]:
    """A preset merged over the presets of its group that its defaults list names (what picks its schema)."""
    parents = [name for name in OmegaConf.load(path).get("defaults", []) if name != "_self_"]
    merged = OmegaConf.merge(*(composed(path.parent / f"{name}.yaml") for name in parents), raw(path))
    out = OmegaConf.to_container(merged, resolve=False)
    assert isinstance(out, dict)
    return out


def walk(values: dict[str, Any], schema: type, prefix: str = "") -> Iterator[tuple[str, Any, Any, type]]:
    """``(dotted key, its option spec or None, value, the schema that owns the key)`` for every leaf key of
    ``values``, descending into the schema's nested groups."""
    specs = {spec.name: spec for spec in option_specs(schema)}
    for key, value in values.items():
        spec = specs.get(key)
        if spec is not None and spec.schema is not None and isinstance(value, dict):
            yield from walk(value, spec.schema, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", spec, value, schema


def mismatches(values: dict[str, Any], schema: type) -> list[str]:
    """``key: preset value != schema default`` for every key of ``values`` (nested groups included), and
    ``key: not an option`` for a key the schema lacks."""
    return [f"{key}: not an option of {owner.__name__}" if spec is None
            else f"{key}: preset {value!r} != schema default {spec.default!r}"
            for key, spec, value, owner in walk(values, schema) if spec is None or value != spec.default]


def unknown(values: dict[str, Any], schema: type) -> list[str]:
    """The keys of ``values`` that ``schema`` does not declare (nested groups included)."""
    return [key for key, spec, _, _ in walk(values, schema) if spec is None]


@pytest.mark.parametrize(("group", "preset"), [(g, name) for g in GROUPS for name in g.base],
                         ids=[f"{g.name}/{name}" for g in GROUPS for name in g.base])
def test_a_base_preset_holds_the_schema_defaults(group: Group, preset: str) -> None:
    path = CONF / group.name / f"{preset}.yaml"
    values = raw(path)
    assert "defaults" not in OmegaConf.load(path), f"{path}: a base preset extends no other preset"
    assert mismatches(values, group.schema_of(values)) == []


@pytest.mark.parametrize(("group", "path"), PRESETS, ids=[f"{g.name}/{p.stem}" for g, p in PRESETS])
def test_every_preset_key_is_an_option(group: Group, path: Path) -> None:
    if group.open_keys:
        return  # a trainer preset may set any Trainer argument (validate_config checks them against Trainer)
    assert unknown(raw(path), group.schema_of(composed(path))) == []


def test_every_group_folder_has_a_schema() -> None:
    """A new config group is declared in jobmatch.app.schema (groups that only pick files or settings of other
    tools, and ``run``, whose root options are ROOT_SCHEMA's, are listed here)."""
    others = {"debug", "experiment", "hparams_search", "hydra", "logger", "run", "sweep"}
    folders = {p.name for p in CONF.iterdir() if p.is_dir()}
    assert folders - others == {g.name for g in GROUPS}


@pytest.mark.parametrize("group", GROUPS, ids=[g.name for g in GROUPS])
def test_every_option_has_a_type_and_a_doc(group: Group) -> None:
    for schema in group.schemas:
        for path, spec in walk_specs(schema):
            assert isinstance(spec, OptionSpec) and spec.type, f"{schema.__name__}.{path}: no type"
            assert spec.doc and "\n" not in spec.doc, f"{schema.__name__}.{path}: no one-line doc"


@pytest.mark.parametrize("group", GROUPS, ids=[g.name for g in GROUPS])
def test_every_default_passes_its_own_rule(group: Group) -> None:
    for schema in group.schemas:
        for path, spec in walk_specs(schema):
            if spec.rule is not None and not str(spec.default).startswith("${"):
                assert spec.rule.problem(spec.default) is None, f"{schema.__name__}.{path}={spec.default!r}"


def test_a_disagreeing_default_is_caught() -> None:
    """The comparison itself: a preset value that differs from the schema's default is reported."""
    schema = GROUPS[0].schemas[0]
    first = dataclasses.fields(schema)[0].name
    assert mismatches({first: "elsewhere.jsonl"}, schema) == [
        f"{first}: preset 'elsewhere.jsonl' != schema default None"]
    assert mismatches({"batchsize": 4}, schema) == [f"batchsize: not an option of {schema.__name__}"]
