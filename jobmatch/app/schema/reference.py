"""The config reference (``docs/config.md``) rendered from the group schemas: every group and option with its
type, default, the values it accepts and its doc."""

from __future__ import annotations

import inspect

from jobmatch.app.schema import GROUPS, ROOT_SCHEMA, Group, walk_specs
from jobmatch.utils.option_rules import OptionSpec, show

HEADER = """# Config reference

Every option of every config group: its type, default, the values it accepts and what it does. Generated from
the group schemas (`jobmatch/app/schema/`, one dataclass per group) by `python -m jobmatch.app.schema`; do not
edit it by hand (`tests/test_config_reference.py` fails when it is stale). The presets under `conf/<group>/`
override these defaults; `docs/extending.md` says how to add an option.

Set an option on the command line as `group.option=value` (`data.batch_size=16`, `stage.optim.lr=1e-5`);
`validate_config` refuses an unknown option or a value outside "accepts" before anything runs.
"""


def cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def row(path: str, spec: OptionSpec) -> str:
    """One table row: option, type, default, accepts, doc (a nested group's row shows no default)."""
    default = "" if spec.schema is not None and spec.default is not None else f"`{cell(show(spec.default))}`"
    accepts = cell(spec.rule.describe()) if spec.rule is not None else ""
    if spec.free:
        accepts = "a mapping"
    return f"| `{path}` | `{cell(spec.type)}` | {default} | {accepts} | {cell(spec.doc)} |"


def table(node: str, schema: type) -> list[str]:
    """The table of one schema composed at ``node``."""
    lines = ["| option | type | default | accepts | doc |", "|---|---|---|---|---|"]
    prefix = f"{node}." if node else ""
    return lines + [row(f"{prefix}{path}", spec) for path, spec in walk_specs(schema)]


def summary(schema: type) -> str:
    """The first paragraph of a schema's docstring, on one line."""
    text = " ".join(inspect.getdoc(schema).split("\n\n")[0].split())  # type: ignore[union-attr]
    return text.replace("``", "`")


def group_section(group: Group) -> list[str]:
    """The section of one group: where it is composed, then one table per schema."""
    nodes = ", ".join(f"`{node}`" for node in group.nodes)
    lines = [f"## {group.name}", "", f"Presets: `conf/{group.name}/`; composed at {nodes}. "
             f"Base presets (holding these defaults): {', '.join(f'`{b}`' for b in group.base)}.", ""]
    if group.open_keys:
        lines += ["Any other argument of `lightning.pytorch.Trainer` is accepted too.", ""]
    for schema in group.schemas:
        if len(group.schemas) > 1:
            lines += [f"### {schema.__name__}", ""]
        lines += [summary(schema), "", *table(group.nodes[0], schema), ""]
    return lines


def render() -> str:
    """The whole reference, as committed in ``docs/config.md``."""
    lines = [HEADER, "## root options", "", summary(ROOT_SCHEMA), "", *table("", ROOT_SCHEMA), ""]
    for group in GROUPS:
        lines += group_section(group)
    return "\n".join(lines).rstrip() + "\n"
