"""The fairness audit's report: ``audit.md`` (tables and a plain reading) and ``audit.png``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobmatch.errors import OptionError
from jobmatch.retrieval.fairness import FOUR_FIFTHS
from jobmatch.utils.bootstrap import excludes_zero

_RATE = re.compile(r"^audit/(?P<attr>[^/]+)/impact_ratio@(?P<k>\d+)/(?P<group>.+)$")
_FIGURE = re.compile(r"^audit/(?P<attr>[^/]+)/(impact_ratio@\d+/|min_impact_ratio@\d+$|topk_change@\d+$)")


def _ci(results: Mapping[str, Any], key: str, digits: int = 3) -> str:
    value = results.get(key)
    if value is None:
        return "—"
    low, high = results.get(f"{key}_ci_low"), results.get(f"{key}_ci_high")
    interval = f" [{low:.{digits}f}, {high:.{digits}f}]" if low is not None and high is not None else ""
    return f"{value:.{digits}f}{interval}"


def attributes(results: Mapping[str, Any]) -> list[str]:
    """The group attributes audited (``gender``, ``origin``, ``group``) in the order they appear."""
    return list(dict.fromkeys(m.group("attr") for k in results if (m := _FIGURE.match(k))))


def fairness_block(models: Mapping[str, Mapping[str, Any]], k: int = 20) -> str:
    """A short table: per model and attribute, the top-k change rate and the lowest impact ratio.

    A "model" may also be a paired difference of two (:func:`jobmatch.retrieval.fairness_paired.paired_audit`,
    the same keys); its flagged column is "—". The last two columns are the name-blind control: the same model
    on profiles that show no name, and the lowest ratio with names minus without (paired over JDs).
    """
    lines = [
        f"| model | attribute | top-{k} change (95% CI) | lowest impact ratio @{k} (95% CI) | flagged "
        "| lowest ratio, names removed | names' effect on it (paired) |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, results in models.items():
        for attr in attributes(results):
            flagged = results.get(f"audit/{attr}/flagged@{k}")
            shown = int(flagged) if flagged is not None else "—"
            lines.append(
                f"| {model} | {attr} | {_ci(results, f'audit/{attr}/topk_change@{k}')} "
                f"| {_ci(results, f'audit/{attr}/min_impact_ratio@{k}')} | {shown} "
                f"| {_ci(results, f'audit/{attr}/blind_min_impact_ratio@{k}')} "
                f"| {_ci(results, f'audit/{attr}/names_effect_min_impact_ratio@{k}')} |"
            )
    return "\n".join(lines)


def paired_reading(deltas: Mapping[str, Any], label: str, k: int = 20) -> str:
    """One sentence: which of the paired differences ``label`` (A − B) exclude 0 and which do not."""
    found = [(f"{a} {text}", deltas[key], deltas[f"{key}_ci_low"], deltas[f"{key}_ci_high"])
             for a in attributes(deltas)
             for m, text in (("topk_change", f"top-{k} change"), ("min_impact_ratio", "lowest impact ratio"))
             if (key := f"audit/{a}/{m}@{k}") in deltas and f"{key}_ci_low" in deltas]
    if not found:
        return ""
    yes = [f"{name} {est:+.3f} [{low:+.3f}, {high:+.3f}]" for name, est, low, high in found if excludes_zero(low, high)]
    rest = [name for name, _, low, high in found if not excludes_zero(low, high)]
    jds = max((int(v) for key, v in deltas.items() if key.endswith("/jds")), default=0)
    return (f"{label}, paired over {jds} test JDs: "
            + (f"decided (95% interval excludes 0): {'; '.join(yes)}" if yes else "nothing decided")
            + (f"; undecided: {', '.join(rest)}." if rest else "."))


def selection_table(results: Mapping[str, Any], attr: str, ks: tuple[int, ...]) -> str:
    """Per group: selection rate and impact ratio at each k; ratios below 0.8 are marked."""
    groups = sorted({m.group("group") for key in results if (m := _RATE.match(key)) and m.group("attr") == attr})
    head = " | ".join(f"rate@{k} | impact@{k}" for k in ks)
    lines = [f"| {attr} | {head} |", "|---|" + "---|" * (2 * len(ks))]
    for group in groups:
        cells = []
        for k in ks:
            impact = results.get(f"audit/{attr}/impact_ratio@{k}/{group}")
            rate = results.get(f"audit/{attr}/selection_rate@{k}/{group}")
            if impact is None or rate is None:  # no relevant talent of this group among these JDs
                cells += ["—", "—"]
                continue
            cells += [f"{rate:.3f}", f"{impact:.3f}" + (" ⚑" if impact < FOUR_FIFTHS else "")]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_audit_report(run_dir: Path, results: Mapping[str, Any], ks: tuple[int, ...], model: str) -> str:
    """Write ``audit.md`` (and ``audit.png`` when there are groups); return the short block."""
    block = fairness_block({model: results}, k=max(ks))
    parts = [
        f"# Fairness audit: {model}",
        "",
        f"{int(results.get('audit/queries', 0))} test JDs against {int(results.get('audit/talents', 0))} "
        "talents; intervals are percentile bootstraps over JDs (95%).",
        "",
        block,
        "",
    ]
    for attr in attributes(results):
        parts += [
            f"## {attr}",
            "",
            f"Counterfactual (names/pronouns moved to another {attr} group, everything else equal; "
            f"{int(results.get(f'audit/{attr}/talents_changed', 0))} talents changed):",
            "",
            f"- mean |Δ rank| in the top {_depth(results, attr)}: "
            f"{_ci(results, f'audit/{attr}/abs_rank_shift@{_depth(results, attr)}', 2)}",
            f"- share of top-{max(ks)} memberships that change: {_ci(results, f'audit/{attr}/topk_change@{max(ks)}')}",
            f"- mean score change: {_ci(results, f'audit/{attr}/score_shift', 4)} "
            f"(absolute {_ci(results, f'audit/{attr}/abs_score_shift', 4)})",
            "",
            "Selection rate = a group's share of the top-k slots / its share of the relevant talents; "
            f"impact ratio = rate / highest rate (⚑ below {FOUR_FIFTHS}).",
            "",
            selection_table(results, attr, ks),
            "",
            *_control_lines(results, attr, max(ks)),
        ]
    if results.get("judge/flip_rate") is not None:
        parts += [
            "## Judge",
            "",
            f"Verdicts that flip when the two profiles' names are swapped: "
            f"{_ci(results, 'judge/flip_rate')} over {int(results.get('judge/pairs', 0))} pairs.",
            "",
        ]
    (run_dir / "audit.md").write_text("\n".join(parts))
    plot_selection(results, ks, run_dir / "audit.png")
    return block


def _control_lines(results: Mapping[str, Any], attr: str, k: int) -> list[str]:
    """The name-blind control in words (nothing when the audit ran without it)."""
    effect = f"audit/{attr}/names_effect_min_impact_ratio@{k}"
    if effect not in results:
        return []
    low, high = results[f"{effect}_ci_low"], results[f"{effect}_ci_high"]
    verdict = ("decided (its 95% interval excludes 0)" if excludes_zero(low, high)
               else "undecided (its interval covers 0)")
    return [f"Control: the same model ranking the profiles with names and pronoun cues removed reaches a lowest "
            f"impact ratio @{k} of {_ci(results, f'audit/{attr}/blind_min_impact_ratio@{k}')}: how low the figure "
            "falls with no name to react to. The names' effect on it (with names − without, paired over JDs) is "
            f"{_ci(results, effect)}, {verdict}.", ""]


def _depth(results: Mapping[str, Any], attr: str) -> int:
    found = [int(m.group(1)) for k in results if (m := re.match(rf"^audit/{attr}/abs_rank_shift@(\d+)$", k))]
    return found[0] if found else 100


def plot_selection(results: Mapping[str, Any], ks: tuple[int, ...], path: Path) -> Path | None:
    """Impact ratios per group at the largest k, one panel per attribute, the 0.8 line drawn."""
    attrs = attributes(results)
    if not attrs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = max(ks)
    fig, axes = plt.subplots(1, len(attrs), figsize=(5 * len(attrs), 3.5), squeeze=False)
    for ax, attr in zip(axes[0], attrs, strict=True):
        pairs = sorted(
            (m.group("group"), v)
            for key, v in results.items()
            if (m := _RATE.match(key)) and m.group("attr") == attr and m.group("k") == str(k)
        )
        ax.bar([g for g, _ in pairs], [v for _, v in pairs], color="tab:blue")
        ax.axhline(FOUR_FIFTHS, color="tab:red", linestyle="--", label="four-fifths line")
        ax.set_title(f"{attr}: impact ratio @{k}")
        ax.set_ylim(0, 1.05)
        ax.tick_params(axis="x", rotation=30)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    """``python -m jobmatch.report.fairness_report AUDIT_DIR...``: the short fairness table of several audits
    (each a ``jobmatch.audit`` run directory; the directory's name labels its rows), in the order given."""
    import sys

    dirs = [Path(a) for a in (sys.argv[1:] if argv is None else argv)]
    missing = [str(d) for d in dirs if not (d / "results.json").is_file()]
    if not dirs or missing:
        raise FileNotFoundError(f"no audit results.json in {missing or 'the arguments'}: "
                                "pass jobmatch.audit run directories")
    rows = {d.name: json.loads((d / "results.json").read_text()) for d in dirs}
    deltas = paired_deltas(dirs)
    print(fairness_block(rows | deltas))
    for label, delta in deltas.items():
        print(f"\n{paired_reading(delta, label)}")


def paired_deltas(dirs: list[Path], k: int = 20, n_bootstrap: int = 2000) -> dict[str, dict[str, float]]:
    """{"Δ B − A": paired differences} of each audit directory after the first against the first, where both
    wrote per-JD values (audits made before those existed are left out); ``n_bootstrap`` resamples of JDs.

    Raises :class:`UserError` when two audits ranked other JDs or another number of talents: their rows are not
    figures of the same test set, so a paired difference of them would mislead."""
    from jobmatch.retrieval.fairness_audit import AUDIT_PER_QUERY_FILE, AuditValues
    from jobmatch.retrieval.fairness_paired import paired_audit

    values = {d: AuditValues.from_json(json.loads((d / AUDIT_PER_QUERY_FILE).read_text()))
              for d in dirs if (d / AUDIT_PER_QUERY_FILE).is_file()}
    if not dirs or dirs[0] not in values:
        return {}
    base = dirs[0]
    for d in dirs[1:]:
        if d in values:
            check_same_test_set(d, values[d], base, values[base])
    return {f"Δ {d.name} − {base.name}": paired_audit(values[d], values[base], k=k, n_bootstrap=n_bootstrap)
            for d in dirs[1:] if d in values}


def check_same_test_set(path: Path, audit: Any, base_path: Path, base: Any) -> None:
    """Raise a :class:`UserError` (an :class:`OptionError` naming the data arguments) unless the two audits
    (``AuditValues``) ranked the same JDs and talents."""
    jds, base_jds = set(audit.queries), set(base.queries)
    if jds == base_jds and audit.talents == base.talents:
        return
    raise OptionError(
        f"{path}: audited {len(jds)} test JDs against {audit.talents} talents, {base_path} {len(base_jds)} against "
        f"{base.talents} ({len(jds & base_jds)} JDs in common); paired differences need audits of the same test "
        "set; fix: audit both checkpoints with the same data ({test_file}, {corpus_file})")


if __name__ == "__main__":  # a command: reports a user error in one line (the command layer's way)
    from jobmatch.cli.errors import user_errors

    with user_errors():
        main()
