"""The project's user-facing error: a problem with what the user gave (a file, a value, a folder).

Entry points report a :class:`UserError` as one line on stderr and exit with status 2; anything else
is a bug and keeps its traceback. Messages follow ``FILE[:LINE]: problem; fix`` where a file is
involved, and ``option=value: problem; fix`` for a configuration value.

Library code names its own arguments, never a config option: an :class:`OptionError` (and an
:class:`OptionText`, the same template for a logged warning) writes ``{name}`` for an argument, and the
application reads it with the option that sets the argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_ARGUMENT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")  # an argument's place in an OptionError message


class UserError(Exception):
    """A bad input, option or folder, explained in one line (exit status 2, no traceback)."""


class ConfigError(UserError, ValueError):
    """A configuration value that is missing, misspelt or out of range; the message names the option."""


class ArgumentTemplate:
    """A message in which ``{name}`` stands for an argument (``template``), read with argument or option names."""

    template: str

    def arguments(self) -> list[str]:
        """The arguments the message names, in order of first mention."""
        return list(dict.fromkeys(_ARGUMENT.findall(self.template)))

    def named(self, option: Callable[[str], str]) -> str:
        """The message with every ``{argument}`` replaced by ``option(argument)``."""
        return _ARGUMENT.sub(lambda found: option(found.group(1)), self.template)


class OptionError(ArgumentTemplate, ConfigError):
    """A bad argument of a library function or class, named as the argument: ``{beta}=0: must be > 0``.

    The message is a template in which ``{name}`` stands for an argument. ``str(error)`` reads it with the bare
    argument names (what a library caller passed); the application, which knows which option sets which
    argument, reads it with the option names through :meth:`named` (``stage.beta=0: ...``).
    """

    def __init__(self, template: str) -> None:
        self.template = template
        super().__init__(self.named(lambda name: name))


class OptionText(ArgumentTemplate):
    """A warning's message that names arguments as ``{name}``, for ``log.warning(OptionText("{dtype}=%s: ..."), x)``.

    ``str()`` reads it with the bare argument names (what a library caller sees); while the application runs a
    task it reads it with the option names (``model.dtype=%s: ...``, see ``jobmatch.app.schema.names``). The
    ``%s`` arguments of the log call fill it as usual.
    """

    def __init__(self, template: str) -> None:
        self.template = template

    def __str__(self) -> str:
        return self.named(lambda name: name)

    def __repr__(self) -> str:
        return f"OptionText({self.template!r})"
