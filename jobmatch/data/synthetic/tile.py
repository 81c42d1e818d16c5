"""Tile a generated market N times with unique ids: a 10^6-talent corpus from the 10^5 market in minutes.

    python -m jobmatch.data.synthetic.tile --src data_cache/synthetic_100k-seed0 --times 10 --out DIR

Tile 0 is the source market itself (its ids unchanged); tile ``k >= 1`` renames every talent
``ID`` to ``ID-tK`` and every JD likewise, and keeps every text. Each row of a split refers to the
talents of its own tile, so a tile's labels are the source's. Talents of other tiles with the same
text are matches left unlabelled (the card says so): a tiled market measures time and memory at
scale, not retrieval quality. Files are streamed line by line (the corpus without parsing its
texts) into a temporary directory renamed into place at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobmatch.data.synthetic.generate import CARD, CORPUS, MANIFEST, read_manifest
from jobmatch.errors import UserError

ROW_FILES = ("train.jsonl", "val.jsonl", "test.jsonl", "test_ood.jsonl")
_PLAIN_ID = re.compile(rb'^\{"id": "([A-Za-z0-9_.-]+)"')  # the corpus rows as the generator writes them


def tile_id(item_id: str, k: int) -> str:
    """The id of ``item_id`` in tile ``k`` (tile 0 keeps the source's ids)."""
    return item_id if k == 0 else f"{item_id}-t{k}"


def tile_market(src: str | Path, times: int, out: str | Path) -> Path:
    """Write ``times`` tiles of the market in ``src`` into ``out`` (which must not exist or be empty).

    Raises:
        UserError: ``src`` has no corpus, ``times`` < 1, or ``out`` is not empty.
    """
    src, out = Path(src), Path(out)
    if times < 1:
        raise UserError(f"--times={times}: use a positive number of tiles")
    if not (src / CORPUS).is_file():
        raise UserError(f"{src}: no {CORPUS}; point --src at a generated market")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out}: exists and is not empty; choose another --out or delete it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)
    try:
        files = {CORPUS: _tile_file(src / CORPUS, tmp / CORPUS, times, _tile_corpus_line)}
        for name in ROW_FILES:
            if (src / name).is_file():
                files[name] = _tile_file(src / name, tmp / name, times, _tile_row_line)
        _write_manifest_and_card(src, tmp, times, files)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _tile_file(src: Path, dst: Path, times: int, tile_line: Any) -> dict[str, Any]:
    sha = hashlib.sha256()
    rows = size = 0
    with dst.open("wb") as out:
        for k in range(times):
            with src.open("rb") as lines:
                for line in lines:
                    new = tile_line(line, k)
                    out.write(new)
                    sha.update(new)
                    rows += 1
                    size += len(new)
    return {"rows": rows, "bytes": size, "sha256": sha.hexdigest()}


def _tile_corpus_line(line: bytes, k: int) -> bytes:
    """A corpus row with its id renamed; spliced without parsing the text when the id is plain."""
    if k == 0:
        return line
    match = _PLAIN_ID.match(line)
    if match:
        return line[: match.start(1)] + tile_id(match.group(1).decode(), k).encode() + line[match.end(1) :]
    row = json.loads(line)
    row["id"] = tile_id(str(row["id"]), k)
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


def _tile_row_line(line: bytes, k: int) -> bytes:
    """A split row with its JD's and talents' ids renamed (texts, if inline, kept)."""
    if k == 0:
        return line
    row = json.loads(line)
    if "query_id" in row:
        row["query_id"] = tile_id(row["query_id"], k)
    for key in ("positive_ids", "negative_ids"):
        if key in row:
            row[key] = [tile_id(i, k) for i in row[key]]
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


def _write_manifest_and_card(src: Path, out: Path, times: int, files: dict[str, Any]) -> None:
    source = read_manifest(src) or {}
    card = "\n".join([
        "# Tiled synthetic academic job market",
        "",
        f"The market in `{src}` (fingerprint `{source.get('fingerprint', 'unknown')}`) tiled {times} times by",
        "`jobmatch.data.synthetic.tile`: tile 0 keeps the source's ids, tile k renames every id `ID` to `ID-tk`",
        "and keeps every text. Each row refers to the talents of its own tile, so its labels are the source's;",
        "talents of other tiles with the same texts are rule matches left unlabelled. Use it to measure time",
        "and memory at scale, not retrieval quality.",
        "",
        f"- talents (corpus): {files[CORPUS]['rows']}",
        *(f"- {name}: {info['rows']} rows" for name, info in files.items() if name != CORPUS),
        "",
    ])
    (out / CARD).write_text(card, encoding="utf-8")
    data = card.encode("utf-8")
    files[CARD] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {
        "generator": "jobmatch.data.synthetic.tile",
        "source": {"path": str(src), "fingerprint": source.get("fingerprint"), "config": source.get("config")},
        "times": times,
        "files": files,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (out / MANIFEST).write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, tile, report; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m jobmatch.data.synthetic.tile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True, help="a generated market's directory")
    parser.add_argument("--times", type=int, required=True, help="tiles to write (1 copies the source)")
    parser.add_argument("--out", type=Path, required=True, help="directory to create")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        out = tile_market(args.src, args.times, args.out)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    manifest = read_manifest(out) or {}
    talents = manifest.get("files", {}).get(CORPUS, {}).get("rows")
    print(f"tiled {args.src} x{args.times} ({talents} talents) in {time.perf_counter() - start:.1f}s")
    print(out / CARD)
    return 0


if __name__ == "__main__":
    sys.exit(main())
