"""Which option sets a library argument: how the application names the arguments that a library
:class:`~jobmatch.errors.OptionError` names (``{beta}=0: ...`` reads ``stage.beta=0: ...``)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from jobmatch.app.schema import GROUPS, walk_specs
from jobmatch.errors import OptionError

# Arguments whose option has another name, or that more than one group declares and one of them sets.
ARGUMENT_OPTIONS: dict[str, str] = {"lora_enabled": "model.lora.enabled"}


@functools.cache
def group_options() -> dict[str, str]:
    """Each top-level option name that exactly one group declares -> its full option name (``corpus_file`` ->
    ``data.corpus_file``); a name that several groups declare (``temperature``, ``batch_size``) is left out."""
    found: dict[str, set[str]] = {}
    for group in GROUPS:
        for schema in group.schemas:
            for path, _ in walk_specs(schema):
                if "." not in path:
                    found.setdefault(path, set()).add(f"{group.nodes[0]}.{path}")
    return {name: next(iter(options)) for name, options in found.items() if len(options) == 1}


def option_name(argument: str, node: str | None = None) -> str:
    """The option that sets ``argument``: the explicit ones first, then ``node.argument`` when the caller knows the
    node (``stage2``), else the one group option of that name, else the argument itself."""
    if argument in ARGUMENT_OPTIONS:
        return ARGUMENT_OPTIONS[argument]
    if node is not None:
        return f"{node}.{argument}"
    return group_options().get(argument, argument)


def option_message(error: OptionError, node: str | None = None) -> str:
    """``error``'s message with its arguments named as options."""
    name: Callable[[str], str] = functools.partial(option_name, node=node)
    return error.named(name)
