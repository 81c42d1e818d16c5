"""Command line: ``jobmatch data --preset synthetic_small --out DIR [--seed N]``
(``python -m jobmatch.data.synthetic`` is the same command).

Generates the dataset (or reuses an identical one already in ``DIR``) and prints the card's path
and the time taken.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from jobmatch.data.synthetic.config import PRESETS, preset
from jobmatch.data.synthetic.generate import CARD, ensure_dataset, generate_dataset, read_manifest


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, generate, report; returns the exit status."""
    parser = argparse.ArgumentParser(prog="jobmatch data", description=__doc__)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="synthetic_small")
    parser.add_argument("--out", type=Path, required=True, help="dataset directory to create")
    parser.add_argument("--seed", type=int, default=None, help="override the preset's seed")
    parser.add_argument("--n-talents", type=int, default=None, help="override the corpus size")
    parser.add_argument("--n-jds", type=int, default=None, help="override the number of JDs")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset in --out")
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in (("seed", args.seed), ("n_talents", args.n_talents), ("n_jds", args.n_jds))
        if value is not None
    }
    try:
        config = preset(args.preset, **overrides)
        start = time.perf_counter()
        existed = read_manifest(args.out) is not None
        out = generate_dataset(config, args.out, overwrite=True) if args.overwrite else ensure_dataset(config, args.out)
        elapsed = time.perf_counter() - start
    except (ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    verb = "reused" if existed and not args.overwrite else "generated"
    print(f"{verb} {args.preset} (seed {config.seed}) in {elapsed:.1f}s")
    print(out / CARD)
    return 0


if __name__ == "__main__":
    from jobmatch.cli.main import run_command

    run_command("data")
