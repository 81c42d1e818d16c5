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


@pytest.mark.parametrize("config_name", ["pipeline", "train"])
def test_gpu_trainer_gets_bf16_whatever_the_cpu(monkeypatch: pytest.MonkeyPatch, config_name: str) -> None:
    """``trainer=gpu experiment=demo``: the GPU's precision, not the CPU's (an AVX2 login node would say fp32)."""
    monkeypatch.setenv(hardware.OVERRIDE_VAR, "0")
    monkeypatch.setattr(hardware, "cuda_has_fast_bf16", lambda: True)
    cfg = compose_config(["trainer=gpu", "experiment=demo"], config_name=config_name)
    assert cfg.trainer.accelerator == "gpu"
    assert cfg.trainer.precision == "bf16-mixed" and cfg.eval.bf16 is True
    cpu = compose_config(["trainer=cpu", "experiment=demo"], config_name=config_name)
    assert cpu.trainer.precision == "32-true" and cpu.eval.bf16 is False


def test_gpu_without_native_bf16_and_other_accelerators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "cuda_has_fast_bf16", lambda: False)  # a V100 or T4
    assert not hardware.accelerator_has_fast_bf16("gpu")
    assert not hardware.accelerator_has_fast_bf16("mps")
    monkeypatch.setenv(hardware.OVERRIDE_VAR, "1")
    assert hardware.accelerator_has_fast_bf16("cpu")


@pytest.mark.parametrize("preset", ["demo", "curriculum", "stage2_sweep", "real_sample_stage2"])
def test_every_preset_follows_the_accelerator(monkeypatch: pytest.MonkeyPatch, preset: str) -> None:
    monkeypatch.setenv(hardware.OVERRIDE_VAR, "0")
    monkeypatch.setattr(hardware, "cuda_has_fast_bf16", lambda: True)
    name = "curriculum" if preset == "curriculum" else "pipeline"
    cfg = compose_config(["trainer=gpu", f"experiment={preset}"], config_name=name)
    assert cfg.trainer.precision == "bf16-mixed"
