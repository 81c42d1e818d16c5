"""docs/config.md is the reference generated from the group schemas, and is regenerated when they change."""

from __future__ import annotations

from pathlib import Path

from jobmatch.app.schema import GROUPS, walk_specs
from jobmatch.app.schema.__main__ import main
from jobmatch.app.schema.reference import render
from tests.helpers import ROOT

REFERENCE = ROOT / "docs" / "config.md"


def test_the_committed_reference_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render(), (
        "docs/config.md is stale: run python -m jobmatch.app.schema")


def test_every_option_of_every_group_is_in_the_reference() -> None:
    text = render()
    for group in GROUPS:
        assert f"## {group.name}\n" in text
        for schema in group.schemas:
            for path, _ in walk_specs(schema):
                assert f"| `{group.nodes[0]}.{path}` |" in text


def test_the_command_writes_and_checks_the_file(tmp_path: Path, capsys) -> None:
    out = tmp_path / "config.md"
    assert main(["--check", "--out", str(out)]) == 1  # missing
    assert main(["--out", str(out)]) == 0 and out.read_text(encoding="utf-8") == render()
    assert main(["--check", "--out", str(out)]) == 0
    out.write_text(render().replace("| `data.batch_size` | `int` | `8` |", "| `data.batch_size` | `int` | `16` |"))
    assert main(["--check", "--out", str(out)]) == 1
    assert "stale" in capsys.readouterr().err
