"""Data files cut from the fixtures."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.config import FIXTURES


def split_files(tmp_path: Path) -> list[str]:
    """Train/val/test JD files cut from the contrastive fixture (8/2/2 JDs), as ``data.<split>_file`` overrides."""
    lines = (FIXTURES / "contrastive_tiny.jsonl").read_text().splitlines()
    out = []
    for name, part in (("train", lines[:8]), ("val", lines[8:10]), ("test", lines[10:])):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(part) + "\n")
        out.append(f"data.{name}_file={path}")
    return out
