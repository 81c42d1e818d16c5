"""The overrides that `make train` and the experiment scripts pass reach Hydra intact (quoting of `${...}`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ["experiments/rankpo/run.sh", "experiments/curriculum/run.sh"]


def _resolved_job(argv: list[str]) -> str:
    """`python -m jobmatch.train ARGV model=tiny_bert --cfg job --resolve`: the composed config, resolved."""
    env = {**os.environ, "JOBMATCH_CPU_BF16": "1", "HYDRA_FULL_ERROR": "0"}
    done = subprocess.run([sys.executable, "-m", "jobmatch.train", *argv, "model=tiny_bert", "--cfg", "job",
                           "--resolve"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_make_train_passes_the_precision_resolver_intact() -> None:
    made = subprocess.run(["make", "-s", "-n", "-o", ".venv/.installed", "train", f"PY={sys.executable}"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert made.returncode == 0, made.stderr
    command = made.stdout.strip().splitlines()[-1]
    printed = subprocess.run(["bash", "-c", f"printf '%s\\n' {command.split(' -m jobmatch.train ', 1)[1]}"],
                             capture_output=True, text=True, timeout=60).stdout.splitlines()
    job = _resolved_job(printed)
    assert re.search(r"^  precision: (bf16-mixed|32-true)$", job, re.M), job
    assert re.search(r"^  bf16: (true|false)$", job, re.M), job


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_experiment_scripts_pass_the_precision_resolver_intact(script: str) -> None:
    lines = (ROOT / script).read_text().splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("COMMON=("))
    end = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith(")"))
    array = "\n".join(lines[start:end + 1]).replace(' "$@"', "")
    shell = array + '\nprintf "%s\\n" "${COMMON[@]}"'
    printed = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60).stdout.splitlines()
    precision = [a for a in printed if a.startswith(("trainer.precision=", "eval.bf16="))]
    assert len(precision) == 2
    job = _resolved_job(precision)
    assert re.search(r"^  precision: (bf16-mixed|32-true)$", job, re.M), job
