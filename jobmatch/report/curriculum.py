"""The curriculum comparison table from two curriculum run directories.

python -m jobmatch.report.curriculum outputs/experiments/curriculum   # holds incremental/ and combined/
python -m jobmatch.report.curriculum --best-checkpoint outputs/experiments/curriculum  # stage 2's start
python -m jobmatch.report.curriculum outputs/reproduce/curriculum      # holds seed<N>/: intervals over seeds
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jobmatch.report.curriculum_seeds import seed_roots, seeds_table

COLUMNS = (("ndcg@20", "nDCG@20"), ("mrr@10", "MRR@10"), ("recall@100", "Recall@100"),
           ("ood:ndcg@20", "OOD nDCG@20"), ("ood:recall@100", "OOD Recall@100"))


def _row(name: str, metrics: dict[str, float], prefix: str) -> str:
    """Cells of ``prefix/metric``; ``ood:`` columns read the out-of-distribution split (``test_ood/``)."""
    keys = [f"{prefix}_ood/{key[4:]}" if key.startswith("ood:") else f"{prefix}/{key}" for key, _ in COLUMNS]
    cells = [f"{metrics[key]:.4f}" if key in metrics else "—" for key in keys]
    return f"| {name} | " + " | ".join(cells) + " |"


def curriculum_table(root: Path) -> str:
    """Markdown: BM25, untrained, round 0, then every later round of each curriculum found under ``root``."""
    lines = ["| system | " + " | ".join(label for _, label in COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    first = True
    for mode in ("incremental", "combined"):
        path = root / mode / "lineage.json"
        if not path.exists():
            lines.append(f"| {mode} | " + " | ".join("missing" for _ in COLUMNS) + " |")
            continue
        lineage = json.loads(path.read_text())
        for entry in lineage:
            metrics = entry["metrics"]
            if entry["round"] == 0:
                if first:
                    lines += [
                        _row("BM25", metrics, "bm25"),
                        _row("untrained MiniLM", metrics, "base"),
                        _row("round 0 (random negatives)", metrics, "test"),
                    ]
                    first = False
                continue
            lines.append(_row(f"{mode} round {entry['round']}", metrics, "test"))
    return "\n".join(lines)


def best_checkpoint(root: Path) -> Path:
    """The checkpoint with the best validation score over every round of every curriculum under ``root``.

    Selection uses the validation split (``checkpoint/best_score`` in each round's training results),
    never the test split. Ties keep the earlier round.
    """
    best: tuple[float, Path] | None = None
    for mode in ("incremental", "combined"):
        path = root / mode / "lineage.json"
        if not path.exists():
            continue
        for entry in json.loads(path.read_text()):
            ckpt = Path(entry["checkpoint"])
            results = ckpt.parent.parent / "results.json"
            if not results.exists():
                continue
            score = json.loads(results.read_text()).get("checkpoint/best_score")
            if score is not None and (best is None or float(score) > best[0]):
                best = (float(score), ckpt)
    if best is None:
        raise FileNotFoundError(f"{root}: no finished curriculum round with a validation score")
    return best[1]


def main(argv: list[str] | None = None) -> None:
    """Print the table (or, with ``--best-checkpoint``, the best checkpoint) for the directory given."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--best-checkpoint":
        print(best_checkpoint(Path(args[1] if len(args) > 1 else "outputs/experiments/curriculum")))
        return
    root = Path(args[0] if args else "outputs/experiments/curriculum")
    print(seeds_table(root) if seed_roots(root) else curriculum_table(root))


if __name__ == "__main__":  # a command: reports a user error in one line (the command layer's way)
    from jobmatch.cli.errors import user_errors

    with user_errors():
        main()
