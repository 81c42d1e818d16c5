"""The project's user-facing error: a problem with what the user gave (a file, a value, a folder).

Entry points report a :class:`UserError` as one line on stderr and exit with status 2; anything else
is a bug and keeps its traceback. Messages follow ``FILE[:LINE]: problem; fix`` where a file is
involved, and ``option=value: problem; fix`` for a configuration value.
"""

from __future__ import annotations


class UserError(Exception):
    """A bad input, option or folder, explained in one line (exit status 2, no traceback)."""


class ConfigError(UserError, ValueError):
    """A configuration value that is missing, misspelt or out of range; the message names the option."""
