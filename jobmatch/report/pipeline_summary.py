"""The pipeline's summary: a markdown table, ``report.md`` and a retention/alignment plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from jobmatch.report.fairness_report import fairness_block, paired_reading

ROWS = (
    ("BM25", "stage1/bm25/ndcg@20", "stage1/bm25/recall@100", None),
    ("untrained model", "stage1/base/ndcg@20", "stage1/base/recall@100", None),
    ("stage 1 (contrastive)", "stage1/ndcg@20", "stage1/recall@100", "stage1/"),
    ("{stage2}", "test/ndcg@20", "test/recall@100", "test/"),
)
# the alignment columns of a model row (prefix + name); ceilings and intent exist for the offline judge only
ALIGNMENT = ("alignment", "alignment_ceiling", "alignment_visible_ceiling", "alignment_intent",
             "alignment_visible_intent")


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) and math.isfinite(value) else "—"


def _delta(results: dict[str, Any], key: str) -> str:
    """``delta/<key>`` signed, with its paired 95% interval when the evaluation wrote one."""
    value = results.get(f"delta/{key}")
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    low, high = results.get(f"delta/{key}_ci_low"), results.get(f"delta/{key}_ci_high")
    interval = f" [{low:+.4f}, {high:+.4f}]" if isinstance(low, float) and isinstance(high, float) else ""
    return f"{value:+.4f}{interval}"


def pipeline_table(results: dict[str, Any], stage2_name: str, stage1_last: bool = False) -> str:
    """Markdown: nDCG@20, Recall@100 and alignment (with the judge's ceiling and the model's intent agreement)
    for the baselines, stage 1 and stage 2; ``test_ood/`` rows when an out-of-distribution split was evaluated.
    ``stage1_last``: stage 1 never validated, its row is its ``last.ckpt``."""
    lines = ["| model | nDCG@20 | Recall@100 | alignment | judge ceiling | visible ceiling | intent | visible intent |",
             "|---|---|---|---|---|---|---|---|"]
    for name, ndcg, recall, prefix in ROWS:
        label = name.format(stage2=stage2_name)
        if stage1_last and prefix == "stage1/":
            label = f"{label[:-1]}, last.ckpt: never validated)"
        aligned = [_fmt(results.get(prefix + key)) if prefix else "—" for key in ALIGNMENT]
        lines.append(f"| {label} | {_fmt(results.get(ndcg))} | {_fmt(results.get(recall))} | " + " | ".join(aligned)
                     + " |")
    deltas = [_delta(results, key) for key in ("ndcg@20", "recall@100", "alignment")]
    lines.append(f"| Δ ({stage2_name} − stage 1) | " + " | ".join(deltas) + f" | — | — | "
                 f"{_delta(results, 'alignment_intent')} | — |")
    for label, prefix in (("stage 1, OOD test", "stage1/test_ood/"), (f"{stage2_name}, OOD test", "test_ood/")):
        if f"{prefix}ndcg@20" in results:
            lines.append(f"| {label} | {_fmt(results[prefix + 'ndcg@20'])} | "
                         f"{_fmt(results.get(prefix + 'recall@100'))} | — | — | — | — | — |")
    return "\n".join(lines)


def kept_and_gained(results: dict[str, Any]) -> tuple[float, float] | None:
    """(share of stage-1 test nDCG@20 that stage 2 keeps, alignment gain over stage 1), or None when missing."""
    start, end, gain = (results.get(k) for k in ("stage1/ndcg@20", "test/ndcg@20", "delta/alignment"))
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (start, end, gain)) or not start:
        return None
    return end / start, gain


def summary_lines(results: dict[str, Any], stage2_name: str, lines: dict[str, float] | None = None,
                  stage1_last: bool = False) -> list[str]:
    """In words: how much nDCG@20 stage 2 keeps and how much alignment it gains (Δ intervals are paired bootstrap
    95% over test JDs); with ``lines`` (``alignment_gain``, ``alignment_decided``, ``ndcg_kept``: an acceptance
    line, e.g. the demo's),
    whether each is met and by what margin. ``stage1_last``: stage 1 is its never-validated ``last.ckpt``."""
    found = kept_and_gained(results)
    if found is None:
        return []
    kept, gain = found
    low, high = results.get("delta/alignment_ci_low"), results.get("delta/alignment_ci_high")
    known = isinstance(low, float) and isinstance(high, float)
    interval = f" (paired 95% CI [{low:+.4f}, {high:+.4f}])" if known else ""
    pairs = results.get("annotate/test_pairs")
    stage1 = "stage-1 (its last.ckpt, never validated)" if stage1_last else "stage-1"
    out = [f"{stage2_name} keeps {100 * kept:.1f}% of {stage1} test nDCG@20 and changes alignment by {gain:+.4f}"
           f"{interval}" + (f" on {pairs} judged test pairs." if pairs else ".")]
    checks = []
    if lines and lines.get("alignment_gain") is not None:
        target = float(lines["alignment_gain"])
        checks.append(f"alignment gain {gain:+.4f} vs ≥ {target:+.2f}: "
                      f"{'met' if gain >= target else 'not met'} (margin {gain - target:+.4f})")
    if lines and lines.get("alignment_decided"):  # the gain's paired interval must exclude 0 (lie above it)
        verdict = "met" if known and low > 0 else "not met"  # type: ignore[operator]
        bound = f"lower bound {low:+.4f}" if known else "no interval"
        checks.append(f"alignment gain decided (paired 95% CI above 0; {bound}): {verdict}")
    if lines and lines.get("ndcg_kept") is not None:
        target = float(lines["ndcg_kept"])
        checks.append(f"nDCG@20 kept {100 * kept:.1f}% vs ≥ {100 * target:.0f}%: "
                      f"{'met' if kept >= target else 'not met'} (margin {100 * (kept - target):+.1f} points)")
    if checks:
        out.append("Acceptance line: " + "; ".join(checks) + ".")
    return out


def judge_cost_line(results: dict[str, Any]) -> str | None:
    """In words: the judge calls (and characters, and prompt tokens when the judge counts them) that the stage-2
    training pairs cost, in all and per point of alignment gain (Δ alignment × 100), or None without counts."""
    calls = results.get("annotate/train_judge_calls")
    if not isinstance(calls, int | float) or not calls:
        return None
    chars = results.get("annotate/train_judge_chars")
    share = calls / max(results.get("annotate/judge_calls") or calls, 1)  # tokens are counted over every split
    tokens = results.get("judge/prompt_tokens")
    train_tokens = tokens * share if isinstance(tokens, int | float) and tokens else None
    text = f"Judge cost of the training pairs: {calls} calls" + (f", {chars} characters of text" if chars else "")
    text += f", ~{train_tokens:.0f} prompt tokens (the split's share of the calls)" if train_tokens else ""
    gain = results.get("delta/alignment")
    if isinstance(gain, int | float) and gain > 0:
        per = f"{calls / (100 * gain):.1f} calls"
        per += f", {train_tokens / (100 * gain):.0f} tokens" if train_tokens else ""
        text += f"; per point of alignment gain: {per}."
    else:
        text += "; no alignment gain to divide by."
    return text


def plot_tradeoff(results: dict[str, Any], path: Path, stage2_name: str) -> Path | None:
    """Stage 1 → stage 2 in the (nDCG@20, alignment) plane, as in the paper's trade-off figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(results.get("stage1/ndcg@20"), results.get("stage1/alignment"), "stage 1"),
              (results.get("test/ndcg@20"), results.get("test/alignment"), stage2_name)]
    if any(not isinstance(v, int | float) for x, y, _ in points for v in (x, y)):
        return None
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.annotate("", xy=points[1][:2], xytext=points[0][:2], arrowprops={"arrowstyle": "->", "color": "grey"})
    for x, y, label in points:
        ax.scatter([x], [y], s=50)
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, 6))
    ax.set_xlabel("retention: test nDCG@20 (rule-based)")
    ax.set_ylabel("alignment: agreement with the judge")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_pipeline_report(root: Path, results: dict[str, Any], stage2_name: str,
                          lines: dict[str, float] | None = None, notes: dict[str, str] | None = None) -> str:
    """Write ``report.md`` (table, what stage 2 kept and gained against the acceptance ``lines``, plot, and the
    fairness block when the models were audited) into ``root``; return the text to print. ``notes``
    (``stage1``, ``stage2``): a stage whose figures are not of its best checkpoint, and why, said under the table."""
    notes = notes or {}
    last = "stage1" in notes
    table = "\n\n".join([pipeline_table(results, stage2_name, last), *summary_lines(results, stage2_name, lines, last),
                          *notes.values()])
    audited = {"stage 1": {k.removeprefix("stage1/"): v for k, v in results.items() if k.startswith("stage1/audit/")},
               stage2_name: {k: v for k, v in results.items() if k.startswith("audit/")}}
    delta = {k.removeprefix("delta/"): v for k, v in results.items() if k.startswith("delta/audit/")}
    if any(audited.values()):
        label = f"Δ ({stage2_name} − stage 1)"
        table += "\n\nFairness (test JDs; counterfactual name/pronoun swaps, selection-rate impact ratios):\n\n"
        table += fairness_block(audited | ({f"{label}, paired 95% CI": delta} if delta else {}))
        table += f"\n\n{paired_reading(delta, label)}" if delta else ""
    plot = plot_tradeoff(results, root / "tradeoff.png", stage2_name)
    counts = ", ".join(f"{k.split('/')[1]} {v}" for k, v in results.items()
                       if k.startswith("annotate/") and k.endswith("_pairs"))
    text = ["# jobmatch pipeline report", "", table, "",
            f"Judged pairs: {counts or '—'}. Retention: rule-based test split; alignment: held-out judged "
            "test pairs (share where the model scores the judge-preferred talent higher); judge ceiling: the "
            "offline judge's noiseless scores against its own noisy verdicts (the best alignment to expect); "
            "visible ceiling: the same on the text the encoder receives (each text cut at its token limit), and "
            "visible intent: that judgement's agreement with the judge's noiseless preference on the whole texts "
            "(the best a model can do from what it sees); intent: agreement with the judge's noiseless preference."]
    cost = judge_cost_line(results)
    text += ["", cost] if cost else []
    if plot:
        text += ["", f"![trade-off]({plot.name})"]
    (root / "report.md").write_text("\n".join(text) + "\n")
    return table
