"""Which option sets a library argument: how the application names the arguments that a library
:class:`~jobmatch.errors.OptionError` names (``{beta}=0: ...`` reads ``stage.beta=0: ...``), and those of the
:class:`~jobmatch.errors.OptionText` warnings the library logs during a task (:func:`named_options_in_logs`)."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

from jobmatch.app.schema import GROUPS, walk_specs
from jobmatch.errors import ArgumentTemplate, ConfigError, OptionError, OptionText

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


@functools.cache
def node_options(node: str) -> frozenset[str] | None:
    """The top-level options a group node declares (None: a node no group schema describes)."""
    schemas = [schema for group in GROUPS if node in group.nodes for schema in group.schemas]
    if not schemas:
        return None
    return frozenset(path for schema in schemas for path, _ in walk_specs(schema) if "." not in path)


def option_name(argument: str, node: str | None = None) -> str:
    """The option that sets ``argument``: the explicit ones first; with the caller's ``node`` (``stage2``), one
    of its options, or, when the argument is another group's option (``pooling`` while building a stage), that
    option, else ``node.argument`` (a loss variant's own option); without a node, the one group option of that
    name, else the argument itself."""
    if argument in ARGUMENT_OPTIONS:
        return ARGUMENT_OPTIONS[argument]
    elsewhere = group_options().get(argument)
    if node is None:
        return elsewhere or argument
    own = node_options(node)
    if own is None or argument in own or elsewhere is None:
        return f"{node}.{argument}"
    return elsewhere


def option_message(error: ArgumentTemplate, node: str | None = None) -> str:
    """``error``'s message (an :class:`OptionError` or :class:`OptionText`) with its arguments named as options."""
    name: Callable[[str], str] = functools.partial(option_name, node=node)
    return error.named(name)


@contextlib.contextmanager
def named_options(node: str) -> Iterator[None]:
    """Re-raise a library :class:`OptionError` from the block as a :class:`ConfigError` naming the options of
    ``node`` (the config node the block's arguments come from, e.g. ``stage``)."""
    try:
        yield
    except OptionError as error:
        raise ConfigError(option_message(error, node)) from None


@contextlib.contextmanager
def named_options_in_logs() -> Iterator[None]:
    """Log each library :class:`OptionText` message of the block with its arguments named as the options that set
    them (``{dtype}=%s ...`` is logged as ``model.dtype=%s ...``), whichever handlers the records reach."""
    make_record = logging.getLogRecordFactory()

    def named_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if isinstance(record.msg, OptionText):
            record.msg = option_message(record.msg)
        return record

    logging.setLogRecordFactory(named_record)
    try:
        yield
    finally:
        logging.setLogRecordFactory(make_record)
