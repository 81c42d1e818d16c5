"""Errors of the serving tools; each message names the file and the problem, and the fix when there is one."""

from __future__ import annotations

from jobmatch.errors import UserError


class ExportFormatError(UserError, ValueError):
    """A model folder is not a (valid) jobmatch export."""


class IndexStoreError(UserError, RuntimeError):
    """A talent index is missing, corrupt or inconsistent."""


class ModelMismatchError(IndexStoreError):
    """An index is used with a model other than the one that built it."""


class InputError(UserError, ValueError):
    """A bad command-line value or JD (empty text, k < 1, an unknown format)."""
