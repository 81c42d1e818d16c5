"""One typed dataclass per config group, declaring each option once: type, default, the values it accepts and a
one-line doc (:func:`jobmatch.utils.option_rules.option`).

The YAML files under ``conf/`` stay the presets; these schemas are what :func:`jobmatch.app.validation.
validate_config` checks a composed config against (unknown keys with the nearest known one, every value against
its rule) and what ``docs/config.md`` is generated from (``python -m jobmatch.app.schema``).

They are not registered with Hydra's ConfigStore. Tried with hydra-core 1.3.8 the way its docs show (the schema
stored as ``data/schema`` and named in ``data/jsonl.yaml``'s defaults list): ``data.batch_size=abc`` then fails
while composing, as "Error merging override data.batch_size=abc" with the cause on other lines, before the
one-line check can run, while ``+data.batchsize=4`` (a ``+`` key) and ``data.batch_size=0`` (a range) compose
without complaint; and every preset would have to name its schema. Validation alone gives more, in one line.

A group's *base* presets (those that extend no other preset, e.g. ``data/jsonl.yaml``) hold exactly the
schema's defaults (``tests/test_config_schema.py`` checks it), so a default is changed in both places.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jobmatch.app.schema.curriculum import CurriculumOptions
from jobmatch.app.schema.data import DataOptions
from jobmatch.app.schema.eval import EvalOptions
from jobmatch.app.schema.fairness import FairnessOptions
from jobmatch.app.schema.judge import OfflineJudgeOptions, OpenAIJudgeOptions, judge_schema
from jobmatch.app.schema.mining import MiningOptions
from jobmatch.app.schema.model import ModelOptions
from jobmatch.app.schema.pairs import PairsOptions
from jobmatch.app.schema.paths import PathsOptions
from jobmatch.app.schema.run import RunOptions
from jobmatch.app.schema.stage import ContrastiveStage, PreferenceStage, stage_schema
from jobmatch.app.schema.trainer import TrainerOptions
from jobmatch.utils.option_rules import OptionSpec, option_specs


@dataclass(frozen=True)
class Group:
    """A config group: its folder under ``conf/``, the nodes it is composed at, its schemas (several when its
    presets build different classes: ``pick`` tells which one a node follows) and its base presets.

    ``open_keys``: a node may hold keys its schema does not declare (they are checked elsewhere: a trainer's
    keys against ``lightning.pytorch.Trainer``'s arguments).
    """

    name: str
    nodes: tuple[str, ...]
    schemas: tuple[type, ...]
    base: tuple[str, ...]
    pick: Callable[[Mapping[str, Any]], type] | None = None
    open_keys: bool = False

    def schema_of(self, node: Mapping[str, Any]) -> type:
        """The schema a composed (or preset) node of this group follows."""
        return self.pick(node) if self.pick is not None else self.schemas[0]


GROUPS: tuple[Group, ...] = (
    Group("data", ("data",), (DataOptions,), ("jsonl",)),
    Group("stage", ("stage", "stage2"), (ContrastiveStage, PreferenceStage), ("contrastive", "rankpo"), stage_schema),
    Group("model", ("model",), (ModelOptions,), ("minilm",)),
    Group("trainer", ("trainer",), (TrainerOptions,), ("cpu",), open_keys=True),
    Group("eval", ("eval",), (EvalOptions,), ("default",)),
    Group("mining", ("mining",), (MiningOptions,), ("default",)),
    Group("curriculum", ("curriculum",), (CurriculumOptions,), ("incremental",)),
    Group("pairs", ("annotate",), (PairsOptions,), ("default",)),
    Group("judge", ("judge",), (OpenAIJudgeOptions, OfflineJudgeOptions), ("openai", "offline"), judge_schema),
    Group("fairness", ("fairness",), (FairnessOptions,), ("default",)),
    Group("paths", ("paths",), (PathsOptions,), ("default",)),
)
ROOT_SCHEMA = RunOptions  # options of the root config itself; its other keys are the groups and the tasks' own


def walk_specs(schema: type, prefix: str = "") -> Iterator[tuple[str, OptionSpec]]:
    """(dotted path, spec) of every option of ``schema``, nested groups' options after their own row."""
    for spec in option_specs(schema):
        path = f"{prefix}{spec.name}"
        yield path, spec
        if spec.schema is not None:
            yield from walk_specs(spec.schema, f"{path}.")


__all__ = ["GROUPS", "ROOT_SCHEMA", "Group", "walk_specs"]
