"""The demo presets keep their bytes: every file matches the hashes recorded from the generator before
the scale work (tests/fixtures/synthetic_reference_hashes.json), so the demo's table cannot move."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from jobmatch.data.synthetic import generate_dataset, preset

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "synthetic_reference_hashes.json").read_text())["datasets"]
FAST = ("tiny", "tiny_anon")


def _hashes(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def _check(name: str, tmp_path: Path) -> None:
    spec = RECORDED[name]
    out = generate_dataset(preset(spec["preset"], **spec["overrides"]), tmp_path / name)
    assert _hashes(out) == spec["sha256"]


@pytest.mark.parametrize("name", FAST)
def test_small_configs_are_byte_identical_to_the_recorded_generator(name: str, tmp_path: Path) -> None:
    _check(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(RECORDED) - set(FAST)))
def test_demo_presets_are_byte_identical_to_the_recorded_generator(name: str, tmp_path: Path) -> None:
    _check(name, tmp_path)
