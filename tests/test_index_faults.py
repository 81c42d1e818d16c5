"""A talent index under faults: a damaged manifest or data file, a full disk and SIGKILL while writing.

Whatever happens, ``rank`` either serves a whole committed generation or refuses in one line naming the
file; the next build or append completes and leaves only the current generation's files.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobmatch.serving.index_store as index_store
import jobmatch.utils.atomic as atomic
from jobmatch.retrieval.shards import ShardedEmbeddings
from jobmatch.serving.errors import IndexStoreError
from jobmatch.serving.index_store import MANIFEST_NAME, TalentIndex
from jobmatch.serving.indexing import index_talents
from jobmatch.serving.ranking import JD, Ranker
from jobmatch.utils.atomic import WriteError
from tests.helpers import ROOT, one_thread
from tests.helpers.serving import NEW_TALENTS, TALENTS, make_export, write_jsonl

IDS = [t["id"] for t in TALENTS]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_export(tmp_path_factory.mktemp("export") / "model")


@pytest.fixture
def built(tmp_path: Path, export: Path) -> Path:
    out = tmp_path / "index"
    index_talents(export, write_jsonl(tmp_path / "corpus.jsonl", TALENTS), out)
    return out


def only_current_files(folder: Path) -> bool:
    manifest = TalentIndex.load(folder).manifest
    return sorted(p.name for p in folder.iterdir()) == sorted([MANIFEST_NAME, manifest.vectors_file,
                                                               manifest.talents_file])


# --- a damaged manifest --------------------------------------------------------------------------------


def test_every_bit_flip_of_the_manifest_is_refused(built: Path) -> None:
    """One bit flipped in each byte of manifest.json (a rotating bit): never loaded, never a traceback."""
    path = built / MANIFEST_NAME
    data = path.read_bytes()
    for position in range(len(data)):
        damaged = bytearray(data)
        damaged[position] ^= 1 << (position % 8)
        path.write_bytes(bytes(damaged))
        with pytest.raises(IndexStoreError, match=rf"^{path}: ") as error:
            TalentIndex.load(built)
        assert "\n" not in str(error.value)
    path.write_bytes(data)
    assert TalentIndex.load(built).ids == IDS


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("version", "abc", r"corrupt \(format version 'abc'\)"),
    ("version", None, r"corrupt \(format version None\)"),
    ("vectors_file", 7, r"corrupt \(vectors_file: expected str, found 7\)"),
    ("talents_file", "../../elsewhere.jsonl", r"corrupt \(talents_file: '\.\./\.\./elsewhere\.jsonl' is not a data"),
    ("count", "6", r"corrupt \(count: expected int, found '6'\)"),
])
def test_a_mistyped_manifest_field_is_one_line(built: Path, field: str, value: object, problem: str) -> None:
    """Fields of the wrong type (here with a checksum that matches them: a hand-edited manifest)."""
    from jobmatch.serving.index_store import manifest_checksum

    path = built / MANIFEST_NAME
    obj = {**json.loads(path.read_text()), field: value}
    obj["manifest_sha256"] = manifest_checksum(obj)
    path.write_text(json.dumps(obj))
    with pytest.raises(IndexStoreError, match=rf"^{path}: {problem}"):
        TalentIndex.load(built)


def test_a_version_2_manifest_without_its_own_checksum_still_reads(built: Path) -> None:
    path = built / MANIFEST_NAME
    obj = json.loads(path.read_text())
    del obj["manifest_sha256"]
    path.write_text(json.dumps({**obj, "version": 2}))
    assert TalentIndex.load(built).ids == IDS
    path.write_text(json.dumps({**obj, "version": 3}))  # a version-3 manifest must carry it
    with pytest.raises(IndexStoreError, match="do not match its own checksum"):
        TalentIndex.load(built)


def test_a_damaged_vectors_file_is_refused_by_rank(built: Path, export: Path) -> None:
    vectors = built / TalentIndex.load(built).manifest.vectors_file
    data = bytearray(vectors.read_bytes())
    data[-5] ^= 0x01
    vectors.write_bytes(bytes(data))
    with pytest.raises(IndexStoreError, match=rf"^{vectors}: corrupt \(checksum differs"):
        Ranker.open(built, export)


# --- a full disk ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["vectors-", "talents-", MANIFEST_NAME])
def test_full_disk_keeps_the_previous_index(built: Path, tmp_path: Path, export: Path, failing: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync, real_store_write = os.fsync, index_store.write_store

    def full(fd: int) -> None:  # the data were written to the page cache; the disk refuses them
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if path.parent == built and failing in path.name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    def full_store(path: Path, rows, **kwargs):
        if failing in path.name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_store_write(path, rows, **kwargs)

    monkeypatch.setattr(atomic.os, "fsync", full)
    monkeypatch.setattr(index_store, "write_store", full_store)
    more = write_jsonl(tmp_path / "more.jsonl", NEW_TALENTS)
    with pytest.raises(WriteError) as error:
        index_talents(export, more, built, append=True)
    message = str(error.value)
    assert "\n" not in message and "No space left on device" in message and "free space" in message
    assert message.startswith(str(built)), message
    monkeypatch.undo()
    assert TalentIndex.load(built).ids == IDS
    assert not [p.name for p in built.iterdir() if p.name.startswith(("vectors-000002", "talents-000002"))]
    assert index_talents(export, more, built, append=True).added == len(NEW_TALENTS)
    assert TalentIndex.load(built).ids == IDS + [t["id"] for t in NEW_TALENTS] and only_current_files(built)


def _full_disk_for(name: str, folder: Path, after: str | None = None):
    """An ``os.fsync`` that refuses (ENOSPC) files in ``folder`` whose name holds ``name`` (once ``after`` exists
    there, when given): the bytes reached the page cache, the disk has no room for them."""
    real_fsync = os.fsync

    def full(fd: int) -> None:
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if path.parent == folder and name in path.name and (after is None or (folder / after).exists()):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    return full


@pytest.mark.parametrize(("failing", "after"), [
    ("shard-00001.npy", None), ("shard-00001.json", None), (".manifest.json.", "shard-00000.json"),
])
def test_full_disk_while_encoding_shards_keeps_the_index_and_the_rerun_resumes(
    built: Path, tmp_path: Path, export: Path, failing: str, after: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedding shards of an append (``INDEX/.work/embeddings``) meet a full disk: one line naming the
    file, the committed index untouched, and the rerun encodes only the shards not finished."""
    shards_dir = built / ".work" / "embeddings"
    more = write_jsonl(tmp_path / "more.jsonl", NEW_TALENTS)
    monkeypatch.setattr(atomic.os, "fsync", _full_disk_for(failing, shards_dir, after))
    with pytest.raises(WriteError) as error:
        index_talents(export, more, built, append=True, shard_size=1)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{shards_dir}/"), message
    assert "No space left on device" in message and "fix: free space on that disk and rerun" in message
    monkeypatch.undo()
    assert Ranker.open(built, export).index.ids == IDS  # the previous index, whole
    assert (shards_dir / "shard-00000.npy").exists() and not list(shards_dir.glob("*.partial"))
    written: list[int] = []
    real_write = ShardedEmbeddings.write

    def counting(self: ShardedEmbeddings, shard: int, *args, **kwargs) -> None:
        written.append(shard)
        real_write(self, shard, *args, **kwargs)

    monkeypatch.setattr(ShardedEmbeddings, "write", counting)
    assert index_talents(export, more, built, append=True, shard_size=1).added == len(NEW_TALENTS)
    assert written == list(range(1, len(NEW_TALENTS)))  # shard 0 was kept from the failed run
    assert TalentIndex.load(built).ids == IDS + [t["id"] for t in NEW_TALENTS] and only_current_files(built)


def test_full_disk_while_faiss_streams_the_vectors_is_one_line_and_keeps_the_index(
    built: Path, tmp_path: Path, export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAISS streams the vectors through the atomic writer; the disk fills after the first blocks reached it."""
    real_writer = index_store.faiss.PyCallbackIOWriter

    def filling_writer(write, *args):
        calls = iter(range(1_000_000))

        def write_until_full(block: bytes) -> int:
            if next(calls) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return write(block)

        return real_writer(write_until_full, *args)

    monkeypatch.setattr(index_store.faiss, "PyCallbackIOWriter", filling_writer)
    more = write_jsonl(tmp_path / "more.jsonl", NEW_TALENTS)
    with pytest.raises(WriteError) as error:
        index_talents(export, more, built, append=True)
    assert str(error.value) == (f"{built / 'vectors-000002.faiss'}: could not write the index (No space left on "
                                "device); any previous index there is intact; fix: free space on that disk and rerun")
    monkeypatch.undo()
    assert Ranker.open(built, export).index.ids == IDS
    assert sorted(p.name for p in built.iterdir() if "vectors-" in p.name) == ["vectors-000001.faiss"]
    assert index_talents(export, more, built, append=True).added == len(NEW_TALENTS)
    assert TalentIndex.load(built).ids == IDS + [t["id"] for t in NEW_TALENTS] and only_current_files(built)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_disk_while_storing_the_new_talents_is_one_line_and_keeps_the_index(
    built: Path, tmp_path: Path, export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The corpus's text store (``INDEX/.work/texts``) is written first; Arrow meets a real ENOSPC (``/dev/full``)."""
    import jobmatch.data.text_store as text_store

    real_file = text_store.pa.OSFile

    def full(path: str, mode: str = "r"):
        return real_file("/dev/full", mode) if Path(path).parent.name == "texts" else real_file(path, mode)

    monkeypatch.setattr(text_store.pa, "OSFile", full)
    more = write_jsonl(tmp_path / "more.jsonl", NEW_TALENTS)
    with pytest.raises(WriteError) as error:
        index_talents(export, more, built, append=True)
    message = str(error.value)
    assert message.startswith(f"{built}/.work/texts/") and "\n" not in message, message
    assert "could not write the text store (No space left on device)" in message and "free space" in message
    assert not list((built / ".work" / "texts").iterdir())
    monkeypatch.undo()
    assert Ranker.open(built, export).index.ids == IDS
    assert index_talents(export, more, built, append=True).added == len(NEW_TALENTS)


CLI_FULL_DISK = """
import errno, os, sys
from pathlib import Path
from jobmatch.cli.main import run_command

shards_dir = Path(sys.argv[3]) / ".work" / "embeddings"
real_fsync = os.fsync

def full(fd):
    path = Path(os.readlink(f"/proc/self/fd/{fd}"))
    if path.parent == shards_dir and "shard-00001.npy" in path.name:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    real_fsync(fd)

os.fsync = full
run_command("index", [f"model={sys.argv[1]}", f"corpus={sys.argv[2]}", f"out={sys.argv[3]}", "append=true",
                      "shard_size=1", "device=cpu", f"paths.run_dir={sys.argv[4]}"])
"""


def test_full_disk_while_indexing_is_one_error_line_exit_2(built: Path, tmp_path: Path, export: Path) -> None:
    more = write_jsonl(tmp_path / "more.jsonl", NEW_TALENTS)
    done = subprocess.run([sys.executable, "-c", CLI_FULL_DISK, str(export), str(more), str(built),
                           str(tmp_path / "run")], cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert errors == [f"error: {built}/.work/embeddings/shard-00001.npy: could not write the embedding shard "
                      "(No space left on device); any previous embedding shard there is intact; fix: free space "
                      "on that disk and rerun"]
    assert TalentIndex.load(built).ids == IDS


# --- SIGKILL while writing -----------------------------------------------------------------------------

DIE = """
import os, signal, sys
from pathlib import Path
import faiss
import jobmatch.serving.index_store as store
from jobmatch.serving.indexing import index_talents
from jobmatch.utils.atomic import atomic_write

export, corpus, out, stage = sys.argv[1:5]
real_faiss_write, real_store_write, real_write = store.faiss.write_index, store.write_store, store._atomic_write
real_unlink = Path.unlink

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def vectors_half_written(index, writer):
    if stage == "vectors-":
        real_faiss_write(faiss.IndexFlatIP(index.d), writer)  # a header, no vectors yet
        die()
    real_faiss_write(index, writer)

def talents_mid_stream(path, rows, **kwargs):
    def rows_then_die():
        for i, row in enumerate(rows):
            if stage == "talents-" and i == 3:
                die()
            yield row
    return real_store_write(path, rows_then_die(), **kwargs)

def manifest_half_written(path, data):
    if stage == path.name:
        with atomic_write(path) as handle:
            handle.write(data[: len(data) // 2])
            handle.flush()
            die()
    real_write(path, data)

def die_at_cleanup(path, *args, **kwargs):
    if stage == "cleanup" and path.name in ("vectors-000001.faiss", "talents-000001.arrow"):  # the old generation
        die()
    real_unlink(path, *args, **kwargs)

store.faiss.write_index, store.write_store = vectors_half_written, talents_mid_stream
store._atomic_write, Path.unlink = manifest_half_written, die_at_cleanup
index_talents(export, corpus, out, append=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["vectors-", "talents-", MANIFEST_NAME, "cleanup"])
def test_sigkill_while_indexing_never_serves_a_half_written_generation(
    built: Path, tmp_path: Path, export: Path, stage: str
) -> None:
    more = write_jsonl(tmp_path / "more.jsonl", NEW_TALENTS)
    done = subprocess.run([sys.executable, "-c", DIE, str(export), str(more), str(built), stage], cwd=ROOT,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    committed = stage == "cleanup"  # killed after the manifest's rename: the new generation is the index
    expected = IDS + [t["id"] for t in NEW_TALENTS] if committed else IDS
    ranker = Ranker.open(built, export)
    assert ranker.index.ids == expected
    assert len(ranker.rank(JD("jd", "Postdoc in machine learning", "test"), k=len(expected)).hits) == len(expected)
    leftovers = sorted(p.name for p in built.iterdir())
    assert len(leftovers) > 3  # the killed write left something behind ...
    report = index_talents(export, more, built, append=True)  # ... which the next run replaces or removes
    assert report.total == len(IDS) + len(NEW_TALENTS) and report.added == (0 if committed else len(NEW_TALENTS))
    if committed:  # nothing new to add: the next save that happens clears the previous generation's files
        index_talents(export, write_jsonl(tmp_path / "none.jsonl", TALENTS[:1]), built)
    assert only_current_files(built)
    assert dataclasses.asdict(TalentIndex.load(built).manifest)["manifest_sha256"]
