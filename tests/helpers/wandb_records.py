"""Read offline W&B runs (``offline-run-*/run-*.wandb``) record by record, with wandb's own protobuf ``Record``.

A ``.wandb`` file is a 7-byte header (``:W&B``, a 2-byte magic, a version byte) followed by a LevelDB-style
log: 32 KiB blocks of chunks, each with a 7-byte header (CRC-32 of type and data, little-endian length, type:
1 full, 2 first, 3 middle, 4 last); a chunk header never starts in a block's last 6 bytes. The chunks of one
record concatenate to a serialised ``wandb_internal_pb2.Record``. wandb 0.31 ships no Python reader for it.

A run is complete when its ``exit`` record is there: wandb writes it when the run finishes, and the file is
closed when wandb-core is torn down (``wandb.teardown()`` in-process; a finished subprocess has done it).
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

BLOCK = 32768
HEADER = 7  # the file header and each chunk header are 7 bytes
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[wandb_internal_pb2.Record]:
    """Every record of a ``.wandb`` file, in order; a chunk with a wrong CRC raises."""
    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a W&B run file")
    pos, parts = HEADER, []
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # a block's trailer: the next chunk starts in the next block
            pos += BLOCK - pos % BLOCK
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if kind == 0 and length == 0:  # zero padding: the end of what was written
            break
        chunk = data[pos + HEADER:pos + HEADER + length]
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) != crc:
            raise ValueError(f"{path}: bad CRC at byte {pos}")
        pos += HEADER + length
        parts.append(chunk)
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(b"".join(parts))
            parts = []
            yield record


def _set(target: dict[str, Any], item: Any) -> None:
    """Apply one summary or history item (``key`` or ``nested_key`` path, ``value_json``) to ``target``."""
    path = [item.key] if item.key else list(item.nested_key)
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = json.loads(item.value_json)


@dataclass
class OfflineRun:
    """What one offline run recorded: the run record's fields, config, summary, history, artifacts, files."""

    path: Path
    project: str = ""
    entity: str = ""
    name: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    host: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (type, name, file names)
    console: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # the record types, in order
    finished: bool = False

    @property
    def directory(self) -> Path:
        """The ``offline-run-*`` directory."""
        return self.path.parent

    def table(self, key: str) -> dict[str, Any]:
        """A logged ``wandb.Table`` (``columns``, ``data``), read from the run's media files."""
        ref = self.summary[key]
        return json.loads((self.directory / "files" / ref["path"]).read_text())


def read_run(path: Path) -> OfflineRun:
    """Read one ``run-*.wandb`` file."""
    run = OfflineRun(path)
    for record in records(path):
        kind = record.WhichOneof("record_type")
        run.kinds.append(kind)
        if kind == "run":
            r = record.run
            run.project, run.entity, run.name, run.group = r.project, r.entity, r.display_name, r.run_group
            run.job_type, run.host = r.job_type, r.host
            run.tags = list(r.tags)
            for item in r.config.update:
                run.config[item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                _set(run.config, item)
        elif kind == "summary":
            for item in record.summary.update:
                _set(run.summary, item)
        elif kind == "history":
            row: dict[str, Any] = {}
            for item in record.history.item:
                _set(row, item)
            run.history.append(row)
        elif kind == "artifact":
            a = record.artifact
            run.artifacts.append((a.type, a.name, [c.path for c in a.manifest.contents]))
        elif kind == "output_raw":
            run.console.append(record.output_raw.line)
        elif kind == "exit":
            run.finished = True
    run.config.pop("_wandb", None)
    return run


def offline_runs(root: Path) -> list[OfflineRun]:
    """Every offline run under ``root``, finished (a run without its exit record fails the caller's test)."""
    runs = [read_run(p) for p in sorted(root.rglob("offline-run-*/run-*.wandb"))]
    unfinished = [str(r.path) for r in runs if not r.finished]
    assert not unfinished, f"offline runs without an exit record (not finished or not flushed): {unfinished}"
    return runs


def finished_offline_runs(root: Path, count: int = 1, timeout: float = 120.0) -> list[OfflineRun]:
    """The ``count`` offline runs under ``root`` once each holds its ``exit`` record (read again until then,
    up to ``timeout`` seconds): a reader that cannot see a file W&B is still writing."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            runs = [read_run(p) for p in sorted(root.rglob("offline-run-*/run-*.wandb"))]
        except (ValueError, struct.error):  # a chunk still being written
            runs = []
        if len(runs) == count and all(r.finished for r in runs):
            return runs
        if time.monotonic() > deadline:
            raise AssertionError(f"{root}: {len(runs)} offline run(s), finished: {[r.finished for r in runs]}; "
                                 f"expected {count} finished within {timeout:.0f} s")
        time.sleep(0.2)
