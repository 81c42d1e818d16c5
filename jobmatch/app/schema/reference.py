"""The config reference (``docs/config.md``) rendered from the group schemas: every group and option with its
type, default, the values it accepts and its doc; after the ``stage`` group the registered loss variants, after
the ``data`` group the synthetic generator's options (``data.synthetic.overrides``)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable

from jobmatch.app.schema import GROUPS, ROOT_SCHEMA, Group, walk_specs
from jobmatch.data.synthetic.config import PRESETS, SyntheticConfig
from jobmatch.losses.registry import NEUTRAL, loss_types, loss_variant
from jobmatch.utils.option_rules import OptionSpec, show

HEADER = """# Config reference

Every option of every config group: its type, default, the values it accepts and what it does. Generated from
the group schemas (`jobmatch/app/schema/`, one dataclass per group) by `python -m jobmatch.app.schema`; do not
edit it by hand (`tests/test_config_reference.py` fails when it is stale). The presets under `conf/<group>/`
override these defaults; `docs/extending.md` says how to add an option.

Set an option on the command line as `group.option=value` (`data.batch_size=16`, `stage.optim.lr=1e-5`);
`validate_config` refuses an unknown option or a value outside "accepts" before anything runs. The `stage`
group ends with the registered loss variants, the `data` group with the synthetic generator's options.
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


def loss_variants_section() -> list[str]:
    """The registered stage-2 loss variants: kind, the loss options each rules out or needs, its own options."""
    neutral = ", ".join(f"`{key}={show(value)}`" for key, value in NEUTRAL.items())
    lines = ["### Loss variants (`stage.loss_type`)", "",
             "The variants registered in `jobmatch/losses/` (`register_loss`; a variant in a module of your own is "
             "named by `stage.loss_module`, see `docs/extending.md`). A variant's *rules out* options must keep "
             f"their neutral value, its *needs* options must not ({neutral}); its own options are keys of the "
             "stage preset, checked and passed to the loss.", "",
             "| `loss_type` | kind | rules out | needs | own options |", "|---|---|---|---|---|"]
    owned = []
    for name in loss_types():
        variant = loss_variant(name)
        listed = [", ".join(f"`stage.{key}`" for key in keys) or "—"
                  for keys in (variant.rules_out, variant.needs, variant.option_names())]
        lines.append(f"| `{name}` | {variant.kind} | {' | '.join(listed)} |")
        if variant.options is not None:
            owned.append((name, variant.options))
    for name, options in owned:
        lines += ["", f"Own options of `stage.loss_type={name}` ({summary(options)}):", "", *table("stage", options)]
    return [*lines, ""]


def attribute_docs(cls: type) -> dict[str, str]:
    """The ``Attributes:`` section of ``cls``'s docstring, one line per attribute (``a, b: doc`` documents both)."""
    text = inspect.getdoc(cls) or ""
    section = text.split("Attributes:", 1)[1] if "Attributes:" in text else ""
    docs: dict[str, str] = {}
    names: list[str] = []
    for line in section.splitlines():
        entry = re.match(r"^    (\w+(?:, \w+)*): (.*)$", line)
        if entry:
            names = entry.group(1).split(", ")
            docs.update(dict.fromkeys(names, entry.group(2).strip()))
        elif line.startswith("        ") and names:
            docs.update({name: f"{docs[name]} {line.strip()}" for name in names})
        elif line.strip():
            break
    return {name: re.sub(r":\w+:`", "`", doc.replace("``", "`")) for name, doc in docs.items()}


def generator_section() -> list[str]:
    """The synthetic generator's options, settable through ``data.synthetic.overrides``, and what each preset sets."""
    docs = attribute_docs(SyntheticConfig)
    fields = [f for f in dataclasses.fields(SyntheticConfig) if f.name != "seed"]
    lines = ["### Generator options (`data.synthetic.overrides`)", "",
             "The options of the synthetic market's generator (`SyntheticConfig` in "
             "`jobmatch/data/synthetic/config.py`), set for a `data=synthetic*` preset as "
             "`'data.synthetic.overrides={n_talents: 2000, judge_noise: 0.5}'` (the seed is `data.synthetic.seed`). "
             "The generator checks their values and the application names the option of a bad one.", "",
             "| option | type | default | doc |", "|---|---|---|---|"]
    for field in fields:
        lines.append(f"| `{field.name}` | `{cell(str(field.type))}` | `{cell(show(field.default))}` | "
                     f"{cell(docs.get(field.name, ''))} |")
    lines += ["", "What each preset (`data.synthetic.preset`) sets differently from these defaults:", ""]
    for name, config in PRESETS.items():
        changed = [f"{f.name}={show(getattr(config, f.name))}" for f in fields
                   if getattr(config, f.name) != f.default]
        lines.append(f"- `{name}`: {', '.join(f'`{c}`' for c in changed) or 'nothing'}")
    return [*lines, ""]


# Sections rendered after a group's own (by group name).
EXTRA_SECTIONS: dict[str, Callable[[], list[str]]] = {"data": generator_section, "stage": loss_variants_section}


def render() -> str:
    """The whole reference, as committed in ``docs/config.md``."""
    lines = [HEADER, "## root options", "", summary(ROOT_SCHEMA), "", *table("", ROOT_SCHEMA), ""]
    for group in GROUPS:
        lines += group_section(group)
        if group.name in EXTRA_SECTIONS:
            lines += EXTRA_SECTIONS[group.name]()
    return "\n".join(lines).rstrip() + "\n"
