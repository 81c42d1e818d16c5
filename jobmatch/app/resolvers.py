"""OmegaConf resolvers of the config tree, registered when :mod:`jobmatch.app` is imported.

``${fast_bf16:ACCELERATOR,A,B}``: ``A`` where the run's accelerator computes bf16 natively, else ``B``. The
presets use ``trainer.precision: ${fast_bf16:${trainer.accelerator},bf16-mixed,32-true}`` (and the same for
``eval.bf16``), so that ``trainer=gpu`` trains in bf16 and a CPU run only where AVX-512 BF16 / AMX make it
pay (:mod:`jobmatch.utils.hardware`). ``${cpu_bf16:A,B}`` asks the CPU alone, whatever the accelerator: kept
for command lines written for CPU runs.
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from jobmatch.utils.hardware import accelerator_has_fast_bf16, cpu_has_fast_bf16


def cpu_bf16(if_fast: Any, otherwise: Any) -> Any:
    """``if_fast`` when this CPU has fast bf16, else ``otherwise``."""
    return if_fast if cpu_has_fast_bf16() else otherwise


def fast_bf16(accelerator: Any, if_fast: Any, otherwise: Any) -> Any:
    """``if_fast`` when ``accelerator`` (``trainer.accelerator``: gpu, cpu, auto, ...) has fast bf16, else
    ``otherwise``."""
    return if_fast if accelerator_has_fast_bf16(str(accelerator)) else otherwise


def register_resolvers() -> None:
    """Register the project's resolvers once (a second call is a no-op)."""
    if not OmegaConf.has_resolver("cpu_bf16"):
        OmegaConf.register_new_resolver("cpu_bf16", cpu_bf16)
    if not OmegaConf.has_resolver("fast_bf16"):
        OmegaConf.register_new_resolver("fast_bf16", fast_bf16)
