"""The command a refused rerun suggests: the user's own command line, with the change allowed, after removing
the step directories the change invalidates; exact when the task runs under Hydra (its overrides are known)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

ALLOW = "resume.allow_changes"


def command_overrides() -> list[str] | None:
    """The command line's task overrides as typed, or None outside a Hydra command."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return [str(o) for o in HydraConfig.get().overrides.task]


def rerun_command(module: str, run_dir: Path, allow: Sequence[str], remove: Sequence[Path] = ()) -> str:
    """``rm -r <remove> && python -m <module> <the same overrides> 'resume.allow_changes=[<allow>]'``; outside
    Hydra, the overrides are described instead of listed."""
    overrides = command_overrides()
    if overrides is None:
        shown = f"python -m {module} <the same overrides> paths.run_dir={shlex.quote(str(run_dir))}"
    else:
        kept = [o for o in overrides if not o.lstrip("+~").startswith(f"{ALLOW}=")]
        if not any(o.lstrip("+").startswith("paths.run_dir=") for o in kept):
            kept.append(f"paths.run_dir={run_dir}")
        shown = " ".join(["python", "-m", module, *map(shlex.quote, kept)])
    if allow:
        shown += " " + shlex.quote(f"{ALLOW}=[{','.join(dict.fromkeys(allow))}]")
    return (f"rm -r {' '.join(shlex.quote(str(p)) for p in remove)} && " if remove else "") + shown
