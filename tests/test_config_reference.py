"""docs/config.md is the reference generated from the group schemas (with the loss variants and the generator's
options), and is regenerated when they change."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import jobmatch.losses.registry as registry
from jobmatch.app.schema import GROUPS, walk_specs
from jobmatch.app.schema.__main__ import main
from jobmatch.app.schema.reference import generator_section, loss_variants_section, render
from jobmatch.data.synthetic.config import PRESETS, SyntheticConfig
from jobmatch.losses import loss_variant, register_loss
from jobmatch.utils.option_rules import Num, option
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


def test_the_reference_lists_the_loss_variants_and_their_own_options(monkeypatch) -> None:
    monkeypatch.setattr(registry, "_VARIANTS", dict(registry._VARIANTS))

    @dataclass
    class ShiftOptions:
        """The shift variant's options."""

        shift: float = option(0.25, "added to every margin", Num(low=0))

    register_loss("shift", lambda c, r, *a, **k: c - r, kind="pairwise", rules_out=("soft_labels",),
                  needs=("reference",), options=ShiftOptions)
    text = "\n".join(loss_variants_section())
    for name in ("sigmoid", "hinge", "listwise"):
        assert f"| `{name}` | {loss_variant(name).kind} |" in text
    assert "| `hinge` | pairwise | `stage.label_smoothing`, `stage.soft_labels` | — | — |" in text
    assert "| `shift` | pairwise | `stage.soft_labels` | `stage.reference` | `stage.shift` |" in text
    assert "| `stage.shift` | `float` | `0.25` | a number >= 0 | added to every margin |" in text


def test_the_reference_lists_every_generator_option_with_its_doc_and_each_preset() -> None:
    text = "\n".join(generator_section())
    for field in dataclasses.fields(SyntheticConfig):
        if field.name == "seed":  # data.synthetic.seed, not an override
            assert "| `seed` |" not in text
            continue
        row = next((line for line in text.splitlines() if line.startswith(f"| `{field.name}` |")), "")
        assert row and not row.endswith("|  |"), f"{field.name}: no row, or no doc in SyntheticConfig's docstring"
    for name in PRESETS:
        assert f"- `{name}`: " in text
    assert "- `synthetic`: `n_talents=5000`, `n_jds=1500`" in text
    assert ":mod:" not in text and "``" not in text
