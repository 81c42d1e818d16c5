"""OmegaConf resolvers of the config tree, registered when :mod:`jobmatch.app` is imported.

``${cpu_bf16:A,B}``: ``A`` on a CPU with fast bf16 (AVX-512 BF16 / AMX), else ``B``; the presets use
``trainer.precision: ${cpu_bf16:bf16-mixed,32-true}`` and ``eval.bf16: ${cpu_bf16:true,false}``, so
that bf16 is chosen only where it is measured to pay (:mod:`jobmatch.utils.hardware`).
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from jobmatch.utils.hardware import cpu_has_fast_bf16


def cpu_bf16(if_fast: Any, otherwise: Any) -> Any:
    """``if_fast`` when this CPU has fast bf16, else ``otherwise``."""
    return if_fast if cpu_has_fast_bf16() else otherwise


def register_resolvers() -> None:
    """Register the project's resolvers once (a second call is a no-op)."""
    if not OmegaConf.has_resolver("cpu_bf16"):
        OmegaConf.register_new_resolver("cpu_bf16", cpu_bf16)
