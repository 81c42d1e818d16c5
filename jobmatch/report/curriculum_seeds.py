"""The curriculum comparison over seeds: each round's test and out-of-distribution nDCG@20 with 95% intervals, and
incremental − combined at every round with paired intervals that resample seeds and test JDs.

Reads ``<root>/seed<N>/{incremental,combined}/lineage.json`` (one curriculum per seed, as
``experiments/reproduce/run.sh`` writes them) and, per round, the per-JD values of its evaluation
(``round<k>/eval/per_query.json``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from jobmatch.report.paired import compare
from jobmatch.utils.bootstrap import PER_QUERY_FILE, PerJD, paired_bootstrap

MODES = ("incremental", "combined")
METRICS = (("ndcg@20", "nDCG@20"), ("ood_ndcg@20", "OOD nDCG@20"), ("recall@100", "Recall@100"),
           ("ood_recall@100", "OOD Recall@100"))
SEED_DIR = re.compile(r"seed(\d+)$")


def seed_roots(root: Path) -> dict[int, Path]:
    """{seed: directory} for every ``seed<N>`` directory under ``root`` that holds a curriculum lineage."""
    found = {}
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        match = SEED_DIR.match(path.name)
        if match and path.is_dir() and any((path / mode / "lineage.json").exists() for mode in MODES):
            found[int(match.group(1))] = path
    return found


def round_values(seed_root: Path) -> dict[str, PerJD]:
    """{"round 0" | "<mode> round <k>": per-JD values} of one seed's finished, evaluated rounds."""
    out: dict[str, PerJD] = {}
    for mode in MODES:
        path = seed_root / mode / "lineage.json"
        for entry in json.loads(path.read_text()) if path.exists() else []:
            eval_dir = Path(entry["checkpoint"]).parents[2] / "eval"  # round<k>/train/checkpoints/best.ckpt
            per_query = eval_dir / PER_QUERY_FILE
            if per_query.exists():
                out["round 0" if entry["round"] == 0 else f"{mode} round {entry['round']}"] = json.loads(
                    per_query.read_text())
    return out


def _baselines(seed_root: Path) -> dict[str, dict[str, float]]:
    """BM25 and the untrained model on the test split (means; deterministic, so the same for every seed)."""
    path = seed_root / "incremental" / "lineage.json"
    metrics = json.loads(path.read_text())[0]["metrics"] if path.exists() else {}
    return {name: {key: metrics[f"{prefix}/{key}"] for key in ("ndcg@20", "recall@100") if f"{prefix}/{key}" in metrics}
            for name, prefix in (("BM25", "bm25"), ("untrained model", "base"))}


def _cell(values: dict[int, PerJD], metric: str) -> str:
    """'mean [low, high]' over seeds × JDs, or '—' when no seed has the metric."""
    rows = [[v[metric][jd] for jd in sorted(v[metric])] for v in values.values() if metric in v]
    if not rows or len({len(r) for r in rows}) != 1:
        return "—"
    mean, low, high = paired_bootstrap(np.array(rows))
    return f"{mean:.4f} [{low:.4f}, {high:.4f}]"


def seeds_table(root: Path) -> str:
    """Markdown: the per-round table with intervals, then incremental − combined per round and its reading."""
    seeds = seed_roots(root)
    if not seeds:
        raise FileNotFoundError(f"{root}: no seed<N>/ directory with a curriculum lineage.json")
    by_system: dict[str, dict[int, PerJD]] = {}
    for seed, path in seeds.items():
        for system, values in round_values(path).items():
            by_system.setdefault(system, {})[seed] = values
    lines = [f"Seeds {', '.join(map(str, seeds))}; each cell: mean over seeds and test JDs [95% bootstrap interval "
             "resampling seeds and JDs].", "",
             "| system | seeds | " + " | ".join(label for _, label in METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]
    for name, metrics in _baselines(next(iter(seeds.values()))).items():
        cells = [f"{metrics[m]:.4f}" if m in metrics else "—" for m, _ in METRICS]
        lines.append(f"| {name} | — | " + " | ".join(cells) + " |")
    order = sorted(by_system, key=lambda s: (0, 0, 0) if s == "round 0" else
                   (1, MODES.index(s.split(" round ")[0]), int(s.rsplit(" ", 1)[1])))
    for system in order:
        values = by_system[system]
        lines.append(f"| {system} | {len(values)} | " + " | ".join(_cell(values, m) for m, _ in METRICS) + " |")
    lines += ["", *comparison_lines(by_system)]
    return "\n".join(lines)


def _pairs(by_system: dict[str, dict[int, PerJD]]) -> list[tuple[str, str]]:
    """(A, B) to compare: incremental vs combined at each round both reached, then each round vs round 0."""
    rounds = sorted({int(s.rsplit(" ", 1)[1]) for s in by_system if s != "round 0"})
    pairs = [(f"incremental round {k}", f"combined round {k}") for k in rounds]
    pairs += [(f"{mode} round {k}", "round 0") for mode in MODES for k in rounds]
    return [(a, b) for a, b in pairs if by_system.get(a) and by_system.get(b)]


def comparison_lines(by_system: dict[str, dict[int, PerJD]]) -> list[str]:
    """incremental − combined at each round both reached, and each mining round − round 0, on every metric, with
    paired intervals over seeds × JDs (:func:`jobmatch.report.paired.compare`) and a reading."""
    found = [c for a, b in _pairs(by_system) for metric, _ in METRICS
             if (c := compare(a, b, "", by_system[a], by_system[b], metric))]
    if not found:
        return ["Paired comparisons: none (needs a finished mining round)."]
    labels = dict(METRICS)
    lines = ["| A − B | metric | difference | 95% CI (paired) | seeds × JDs | decided |", "|---|---|---|---|---|---|"]
    lines += [f"| {c.a} − {c.b} | {labels[c.metric]} | {c.estimate:+.4f} | [{c.low:+.4f}, {c.high:+.4f}] | "
              f"{c.n_seeds} × {c.n_jds} | {'yes' if c.decided else 'no'} |" for c in found]
    decided = [f"{c.a} {'above' if c.estimate > 0 else 'below'} {c.b} in {labels[c.metric]} ({c.estimate:+.4f})"
               for c in found if c.decided]
    versus = [c for c in found if c.b != "round 0"]
    lines += ["", f"Decided (95% interval excludes 0): {'; '.join(decided)}." if decided else
              "Decided (95% interval excludes 0): none.",
              f"Undecided: {len(found) - len(decided)} of {len(found)} differences"
              + ("; incremental vs combined: not told apart on either split."
                 if versus and not any(c.decided for c in versus) else ".")]
    return lines
