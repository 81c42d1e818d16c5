"""bf16 only where the CPU computes it natively: the presets' ${cpu_bf16:...} resolver."""

from __future__ import annotations

import pytest

from jobmatch.utils import hardware
from tests.helpers import compose_config


@pytest.mark.parametrize(("forced", "precision", "bf16"), [("1", "bf16-mixed", True), ("0", "32-true", False)])
def test_demo_preset_picks_precision_by_cpu(monkeypatch: pytest.MonkeyPatch, forced: str, precision: str,
                                            bf16: bool) -> None:
    monkeypatch.setenv(hardware.OVERRIDE_VAR, forced)
    cfg = compose_config(["experiment=demo"], config_name="pipeline")
    assert cfg.trainer.precision == precision and cfg.eval.bf16 is bf16


def test_flags_decide_without_an_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(hardware.OVERRIDE_VAR, raising=False)
    monkeypatch.setattr(hardware, "_cpu_flags", lambda: frozenset({"fma", "avx2"}))
    assert not hardware.cpu_has_fast_bf16()
    monkeypatch.setattr(hardware, "_cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    assert hardware.cpu_has_fast_bf16()
