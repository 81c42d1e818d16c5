"""Command-line helpers shared by the export, index and rank entry points."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch

from jobmatch.data.readers import DataFormatError
from jobmatch.retrieval.search import set_threads
from jobmatch.serving.errors import ExportFormatError, IndexStoreError, InputError

log = logging.getLogger(__name__)

# Problems with what the user gave (files, folders, values): reported as one line, exit status 2.
USER_ERRORS = (DataFormatError, ExportFormatError, IndexStoreError, InputError, FileNotFoundError, FileExistsError)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn :data:`USER_ERRORS` into a one-line ``error: ...`` log record and exit status 2 (no traceback)."""
    try:
        yield
    except USER_ERRORS as err:
        log.error("error: %s", err)
        raise SystemExit(2) from None


def alias_model_argument(argv: list[str]) -> list[str]:
    """Rewrite ``model=DIR`` to ``model_dir=DIR``.

    Hydra treats ``model=`` as a choice of the ``model`` config group (conf/model/), so the index
    and rank configs name the export folder ``model_dir``; this keeps ``model=DIR`` working on
    their command lines.
    """
    return [f"model_dir={arg[len('model='):]}" if arg.startswith("model=") else arg for arg in argv]


def apply_threads(threads: int | None) -> None:
    """Cap torch's and FAISS's CPU threads (``None`` keeps their defaults)."""
    if threads is not None:
        torch.set_num_threads(int(threads))
        set_threads(int(threads))
