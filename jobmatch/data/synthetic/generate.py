"""Writing a synthetic dataset to disk, atomically, and reusing it when it is already there.

Layout of a dataset directory:

- ``train.jsonl``, ``val.jsonl``, ``test.jsonl``: contrastive rows ``{query, positives, negatives}``
  with ``query_id``, ``positive_ids``, ``negative_ids``; val/test positives are the qrels;
- ``test_ood.jsonl``: the same for the out-of-distribution postings (subfields no other split asks for);
- ``corpus.jsonl``: ``{"id", "text"}`` per talent (the retrieval corpus);
- with ``inline_texts=False`` the splits hold ``{query_id, query, positive_ids, negative_ids}`` rows that
  refer to ``corpus.jsonl`` by id instead of copying profile texts;
- ``manifest.json``: the config, its fingerprint, the generator version, file sizes/rows/hashes and
  the figures of the card;
- ``dataset_card.md``: the figures for people.

Everything is written into a temporary sibling directory that is renamed into place at the end,
so an interrupted run leaves no half-written dataset. :mod:`stream` writes the files.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from jobmatch.data.synthetic.config import SyntheticConfig
from jobmatch.data.synthetic.stream import CARD, CORPUS, MANIFEST, vocabulary_digest, write_market
from jobmatch.errors import UserError

__all__ = ["CARD", "CORPUS", "MANIFEST", "DatasetMismatchError", "dataset_fingerprint", "ensure_dataset",
           "generate_dataset", "read_manifest"]


class DatasetMismatchError(UserError, ValueError):
    """The target directory holds something other than the requested dataset."""


def dataset_fingerprint(config: SyntheticConfig) -> str:
    """The fingerprint a dataset of ``config`` carries in its manifest."""
    return config.fingerprint(vocabulary_digest(config))


def read_manifest(out_dir: str | Path) -> dict[str, Any] | None:
    """The manifest of a dataset directory, or ``None`` when there is none."""
    path = Path(out_dir) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def generate_dataset(config: SyntheticConfig, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Generate the dataset of ``config`` into ``out_dir`` and return ``out_dir``.

    Raises:
        FileExistsError: ``out_dir`` exists and is not empty (pass ``overwrite=True`` to replace a
            dataset, or use :func:`ensure_dataset` to reuse one).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{out_dir} exists and is not empty; use ensure_dataset() to reuse a dataset, pass "
            "overwrite=True to replace it, or choose another directory"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a dataset is meant to be shared
    try:
        write_market(config, tmp)
        _move_into_place(tmp, out_dir, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def ensure_dataset(config: SyntheticConfig, out_dir: str | Path) -> Path:
    """Return ``out_dir`` holding the dataset of ``config``, generating it only if it is absent.

    Raises:
        DatasetMismatchError: ``out_dir`` holds a dataset of another config, or other files.
    """
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    if manifest is None:
        if out_dir.exists() and any(out_dir.iterdir()):
            raise DatasetMismatchError(
                f"{out_dir} is not empty and has no {MANIFEST}: it is not a synthetic dataset; "
                "choose another directory or delete it"
            )
        try:
            return generate_dataset(config, out_dir)
        except FileExistsError:  # another process (e.g. a DDP rank) finished it first
            manifest = read_manifest(out_dir)
            if manifest is None:
                raise
    _check_manifest(config, out_dir, manifest)
    return out_dir


def _check_manifest(config: SyntheticConfig, out_dir: Path, manifest: dict[str, Any]) -> None:
    expected = dataset_fingerprint(config)
    if manifest.get("fingerprint") != expected:
        raise DatasetMismatchError(
            f"{out_dir} holds a synthetic dataset with fingerprint {manifest.get('fingerprint')} "
            f"(generator {manifest.get('generator_version')}), but this config has {expected}; "
            "choose another directory for this config or delete the old dataset"
        )
    missing = [name for name in manifest.get("files", {}) if not (out_dir / name).is_file()]
    if missing:
        raise DatasetMismatchError(f"{out_dir} lacks {missing}; delete the directory to regenerate it")


def _move_into_place(tmp: Path, out_dir: Path, *, overwrite: bool) -> None:
    if out_dir.exists() and not any(out_dir.iterdir()):
        out_dir.rmdir()
    if not out_dir.exists():
        try:
            tmp.rename(out_dir)
            return
        except OSError as err:  # appeared meanwhile
            raise FileExistsError(f"{out_dir} appeared while generating") from err
    if not overwrite:
        raise FileExistsError(f"{out_dir} appeared while generating")
    old = out_dir.with_name(f".{out_dir.name}.old-{tmp.name}")
    out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
