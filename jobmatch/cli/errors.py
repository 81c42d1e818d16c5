"""How every entry point reports a failure: a user error in one line, a bug with one traceback.

- A :data:`USER_ERRORS` exception (a bad file, folder or option) prints ``error: <message>`` once on
  stderr and exits with status 2; :func:`user_errors` does this inside a task (under ``@hydra.main``,
  before Hydra's job runner would print the traceback) and around the argparse commands (``report``, ``data``).
- Hydra's own errors before the task (an unknown key, a bad override, a missing config) end the same
  way, one line and status 2: :func:`hydra_command` runs a ``@hydra.main`` function so that Hydra
  raises them instead of printing them over several lines.
- Anything else is a bug: its traceback is printed once (without Hydra's frames) and the status is 1.

``HYDRA_FULL_ERROR=1`` turns all of this off: every error is raised with its full traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import sys
import traceback
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import hydra
from hydra.errors import HydraException
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from jobmatch.errors import OptionError, UserError

FULL_ERROR_VAR = "HYDRA_FULL_ERROR"
# What the user gave is wrong (a file, a folder, a value left at ???): one line, status 2.
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, FileNotFoundError, FileExistsError, MissingMandatoryValue)
# Hydra's and OmegaConf's errors while composing the config (before the task runs): one line too.
CONFIG_ERRORS: tuple[type[BaseException], ...] = (HydraException, OmegaConfBaseException)
# Where the code of Hydra's job set-up (run directory, log handlers, saved config) lives.
SETUP_CODE = (*(os.path.dirname(module.__file__ or "") + os.sep for module in (hydra, logging)), pathlib.__file__)
USER_STATUS = 2
BUG_STATUS = 1

_forced = False  # True while hydra_command (not the user) has set HYDRA_FULL_ERROR=1


def full_errors() -> bool:
    """Whether the user asked for full tracebacks (``HYDRA_FULL_ERROR=1``)."""
    return os.environ.get(FULL_ERROR_VAR) == "1" and not _forced


def fold_lines(text: str) -> str:
    """``text`` on one line: a list after a line ending in ``:`` is joined by commas, other lines by ``;``
    (a space after a full stop).

    Hydra's "Config search path" appendix is dropped (it names Hydra's own search path, not a fix).
    """
    out, listing = "", False
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        if line.startswith("Config search path"):
            break
        if not out:
            out = line
        elif out.endswith(":") or listing:
            out += (", " if listing else " ") + line
            listing = True
            continue
        else:
            out += (" " if out.endswith(".") else "; ") + line
        listing = False
    return out


def exit_with(message: str, status: int = USER_STATUS) -> None:
    """Print ``error: <message>`` (one line) on stderr and exit with ``status``."""
    sys.stderr.write(f"error: {fold_lines(message)}\n")
    sys.stderr.flush()
    raise SystemExit(status)


def user_message(error: BaseException) -> str:
    """What the user reads: a library's :class:`OptionError` names its arguments, shown here as the options that
    set them (``corpus_file`` -> ``data.corpus_file``); any other error as it is."""
    if isinstance(error, OptionError):
        from jobmatch.app.schema.names import option_message

        return option_message(error)
    return str(error)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a :data:`USER_ERRORS` exception into one ``error:`` line on stderr and exit status 2."""
    try:
        yield
    except USER_ERRORS as error:
        if full_errors():
            raise
        exit_with(user_message(error))


def hydra_command(main: Callable[[], Any]) -> None:
    """Run a ``@hydra.main`` function as a command: Hydra's own errors in one line (status 2), bugs
    with one traceback (status 1). Call it under ``if __name__ == "__main__"``."""
    global _forced
    if os.environ.get(FULL_ERROR_VAR) == "1":
        main()
        return
    os.environ[FULL_ERROR_VAR] = "1"  # Hydra then raises instead of printing: reported below
    _forced = True
    try:
        main()
    except Exception as error:
        report(error)
    finally:
        _forced = False
        os.environ.pop(FULL_ERROR_VAR, None)


def report(error: Exception) -> None:
    """Exit for ``error``: one line for a user or configuration error, else its traceback (below Hydra's job runner)."""
    task_frames = _after_run_job(error.__traceback__)
    composing = task_frames is None  # no run_job frame: the task never started
    if isinstance(error, USER_ERRORS) or (composing and isinstance(error, CONFIG_ERRORS)):
        exit_with(user_message(error))
    setup = None if composing else job_setup_problem(error, task_frames)
    if setup:
        exit_with(setup)
    traceback.print_exception(type(error), error, error.__traceback__ if composing else task_frames)
    raise SystemExit(BUG_STATUS)


def job_setup_problem(error: BaseException, task_frames: TracebackType | None) -> str | None:
    """One line for an OS error of Hydra's job set-up, before the task ran: its run directory cannot be
    created or its log file opened (a read-only or full disk, a file in the way). ``None`` otherwise.

    Hydra's ``run_job`` calls the task itself; an error whose first frame below ``run_job`` is Hydra's,
    ``pathlib``'s or ``logging``'s came from the set-up, not from the task."""
    if task_frames is None or not task_frames.tb_frame.f_code.co_filename.startswith(SETUP_CODE):
        return None
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    why = cause.strerror or type(cause).__name__
    return (f"{cause.filename or 'the run directory'}: cannot write the run directory or its log file ({why}); "
            "fix: set paths.run_dir (or paths.output_dir) to a folder you can write")


def _after_run_job(tb: TracebackType | None) -> TracebackType | None:
    """The traceback below Hydra's ``run_job`` frame (the task's own frames), or ``None`` if there is none."""
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "run_job":
            return tb.tb_next
        tb = tb.tb_next
    return None
