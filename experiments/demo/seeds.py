"""The demo's stage 2 over seeds: per-seed rows, the mean against stage 1 and, given two settings, their
paired difference, each with a 95% bootstrap interval over seeds and test JDs.

    python -m experiments.demo.seeds --runs 42=RUN 1=RUN 2=RUN [--against 42=RUN 1=RUN 2=RUN] [--names P=8 P=10]

Each RUN is a stage-2 run directory (``jobmatch.train stage=rankpo ...``, or a pipeline's ``stage2/``) holding
``per_query.json``: per test JD the run's values (``test``) and its stage-1 model's (``stage1``). Every run of one
setting must start from the same stage-1 model, so ``stage1`` is one set of values; seeds pair by their number.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from jobmatch.utils.bootstrap import PER_QUERY_FILE, PerJD, excludes_zero, jd_weights, paired_bootstrap, paired_diffs

METRICS = (("ndcg@20", "nDCG@20"), ("alignment", "alignment"), ("alignment_intent", "intent"),
           ("ood_ndcg@20", "OOD nDCG@20"))


def read_runs(specs: list[str]) -> tuple[dict[int, PerJD], dict[int, PerJD]]:
    """``SEED=DIR`` specs -> ({seed: the run's per-JD values}, {seed: its stage-1 model's})."""
    runs: dict[int, PerJD] = {}
    stage1: dict[int, PerJD] = {}
    for spec in specs:
        seed, _, folder = spec.partition("=")
        data = json.loads((Path(folder) / PER_QUERY_FILE).read_text())
        runs[int(seed)], stage1[int(seed)] = data["test"], data["stage1"]
    return runs, stage1


def mean_value(values: PerJD, metric: str) -> float:
    """The run's figure: the mean over JDs (alignment: weighted by the JD's pairs, i.e. the pair share)."""
    jds = list(values[metric])
    return float(np.average([values[metric][j] for j in jds], weights=jd_weights(values, metric, jds)))


def interval(a: dict[int, PerJD], b: dict[int, PerJD], metric: str) -> str:
    """``+x [+lo, +hi]`` of A − B, paired over seeds and JDs, with a star when decided."""
    diffs, weights = paired_diffs(a, b, metric)
    estimate, low, high = paired_bootstrap(diffs, weights)
    return f"{estimate:+.4f} [{low:+.4f}, {high:+.4f}]" + (" *" if excludes_zero(low, high) else "")


def seed_table(name: str, runs: dict[int, PerJD], stage1: dict[int, PerJD]) -> list[str]:
    """Markdown rows: each seed's test figures (nDCG@20 with the share of stage 1's it keeps), then the mean."""
    lines = [f"**{name}**", "", "| seed | test nDCG@20 (kept) | alignment | Δ alignment | Δ intent | OOD nDCG@20 |",
             "|---|---|---|---|---|---|"]
    for seed in sorted(runs):
        run, base = runs[seed], stage1[seed]
        kept = mean_value(run, "ndcg@20") / mean_value(base, "ndcg@20")
        lines.append(f"| {seed} | {mean_value(run, 'ndcg@20'):.4f} ({kept:.1%}) | {mean_value(run, 'alignment'):.4f} | "
                     f"{mean_value(run, 'alignment') - mean_value(base, 'alignment'):+.4f} | "
                     f"{mean_value(run, 'alignment_intent') - mean_value(base, 'alignment_intent'):+.4f} | "
                     f"{mean_value(run, 'ood_ndcg@20'):.4f} |")
    plural = "s" if len(runs) > 1 else ""
    kept = (np.mean([mean_value(r, "ndcg@20") for r in runs.values()])
            / np.mean([mean_value(s, "ndcg@20") for s in stage1.values()]))
    lines.append(f"| mean, Δ vs stage 1 (95% CI over {len(runs)} seed{plural} and the test JDs) | "
                 f"{interval(runs, stage1, 'ndcg@20')} ({kept:.1%} kept) | | {interval(runs, stage1, 'alignment')} | "
                 f"{interval(runs, stage1, 'alignment_intent')} | {interval(runs, stage1, 'ood_ndcg@20')} |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True, help="SEED=DIR of one setting's stage-2 runs")
    parser.add_argument("--against", nargs="+", help="SEED=DIR of a second setting (same seeds, same test pairs)")
    parser.add_argument("--names", nargs=2, default=("A", "B"), help="the two settings' names")
    args = parser.parse_args(argv)
    a, a1 = read_runs(args.runs)
    lines = seed_table(args.names[0], a, a1)
    if args.against:
        b, b1 = read_runs(args.against)
        lines += seed_table(args.names[1], b, b1)
        lines += [f"**{args.names[0]} − {args.names[1]}**, paired over seeds and test JDs (* decided):", "",
                  "| metric | difference (95% CI) |", "|---|---|"]
        lines += [f"| {label} | {interval(a, b, metric)} |" for metric, label in METRICS]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
