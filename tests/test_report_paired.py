"""Paired method-vs-method bootstrap intervals over test JDs (and seeds): coverage and the report table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from jobmatch.report.__main__ import main as report_main
from jobmatch.report.paired import comparisons, paired_bootstrap
from jobmatch.report.sweep import collect_runs


def test_interval_covers_a_known_difference_at_about_the_nominal_rate() -> None:
    """200 simulated test sets of 60 JDs with heterogeneous per-JD differences around a true 0.03."""
    rng = np.random.default_rng(0)
    covered = 0
    for i in range(200):
        weights = rng.integers(5, 30, size=60).astype(float)  # [J] pairs per JD
        diffs = 0.03 + rng.normal(0, 0.1, size=60) / np.sqrt(weights / 10)  # [J]
        _, low, high = paired_bootstrap(diffs, weights, n_bootstrap=500, seed=i)
        covered += low <= 0.03 <= high
    assert 0.90 <= covered / 200 <= 0.99


def test_seeds_and_jds_are_resampled() -> None:
    rng = np.random.default_rng(1)
    per_jd = rng.normal(0, 0.05, size=40)
    one = paired_bootstrap(0.02 + per_jd[None, :], n_bootstrap=1000)
    seeds = paired_bootstrap(0.02 + per_jd[None, :] + np.array([[-0.03], [0.0], [0.03]]), n_bootstrap=1000)
    assert one[0] == seeds[0]  # seed effects that average to zero leave the estimate
    assert seeds[2] - seeds[1] > one[2] - one[1]  # and widen the interval
    assert one[1] > 0  # a clear difference is decided


def write_run(root: Path, method: str, lr: float, seed: int, ndcg: np.ndarray, wins: np.ndarray) -> None:
    """A finished stage-2 run directory: config.yaml, results.json and per_query.json over 50 JDs."""
    run = root / f"{method}_{lr:g}_{seed}"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"stage": {"name": method, "optim": {"lr": lr}}, "seed": seed}))
    (run / "results.json").write_text(json.dumps({"test/ndcg@20": float(ndcg.mean()),
                                                  "test/alignment": float(wins.mean())}))
    jds = [f"jd-{j:05d}" for j in range(len(ndcg))]
    values = {"ndcg@20": dict(zip(jds, ndcg.tolist(), strict=True)),
              "alignment": dict(zip(jds, wins.tolist(), strict=True)), "n_pairs": dict.fromkeys(jds, 20.0)}
    (run / "per_query.json").write_text(json.dumps({"test": values, "stage1": values}))


def test_report_compares_methods_per_lr_and_at_matched_alignment(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    base = rng.uniform(0.3, 0.7, size=50)
    for seed in (0, 1):
        for lr, shift in ((1e-5, 0.0), (1e-4, 0.1)):
            noise = rng.normal(0, 0.01, size=50)
            # rankpo keeps nDCG and gains alignment with lr; sft loses nDCG where it gains the same alignment
            write_run(tmp_path, "rankpo", lr, seed, base + noise, 0.6 + shift + noise)
            write_run(tmp_path, "sft", lr, seed, base - 0.1 - shift + noise, 0.62 + shift + noise)
    found = {(c.setting, c.metric): c for c in comparisons(collect_runs([str(tmp_path)]))}
    at_lr = found["lr 1e-05", "ndcg@20"]
    assert (at_lr.a, at_lr.b, at_lr.n_seeds, at_lr.n_jds) == ("rankpo", "sft", 2, 50)
    assert abs(at_lr.estimate - 0.1) < 1e-9 and at_lr.decided
    assert abs(found["lr 1e-05", "alignment"].estimate + 0.02) < 1e-9
    matched = next(c for (setting, _), c in found.items() if setting.startswith("alignment"))
    assert matched.metric == "ndcg@20" and abs(matched.estimate - 0.14) < 0.01 and matched.decided  # level 0.66
    report_main([str(tmp_path)])
    text = (tmp_path / "report.md").read_text()
    assert "| rankpo − sft | lr 0.0001 | nDCG@20 |" in text
    assert "Decided (95% interval excludes 0): rankpo above" in text


def test_intent_and_ood_rows_and_only_pair_shares_are_weighted_by_pairs(tmp_path: Path) -> None:
    """Runs that kept intent and out-of-distribution nDCG@20 per JD get those rows; nDCG (OOD too) is a mean
    over JDs, alignment and intent are weighted by each JD's pairs."""
    from jobmatch.utils.bootstrap import paired_diffs

    jds = ["jd-1", "jd-2"]
    a = {0: {"ood_ndcg@20": {"jd-1": 1.0, "jd-2": 0.0}, "alignment_intent": {"jd-1": 1.0, "jd-2": 0.0},
             "n_pairs": {"jd-1": 1.0, "jd-2": 9.0}}}
    b = {0: {"ood_ndcg@20": dict.fromkeys(jds, 0.0), "alignment_intent": dict.fromkeys(jds, 0.0),
             "n_pairs": {"jd-1": 1.0, "jd-2": 9.0}}}
    assert paired_diffs(a, b, "ood_ndcg@20")[1] is None
    assert paired_diffs(a, b, "alignment_intent")[1].tolist() == [1.0, 9.0]
    rng = np.random.default_rng(3)
    for method, shift in (("rankpo", 0.1), ("sft", 0.0)):
        write_run(tmp_path, method, 1e-4, 0, rng.uniform(0.3, 0.7, 50), rng.uniform(0.5, 0.8, 50))
        run = tmp_path / f"{method}_0.0001_0"
        values = json.loads((run / "per_query.json").read_text())
        values["test"]["ood_ndcg@20"] = {f"ood-{j}": 0.5 + shift for j in range(30)}
        values["test"]["alignment_intent"] = dict.fromkeys(values["test"]["alignment"], 0.7 + shift)
        (run / "per_query.json").write_text(json.dumps(values))
    found = {c.metric: c for c in comparisons(collect_runs([str(tmp_path)]))}
    assert found["ood_ndcg@20"].n_jds == 30 and abs(found["ood_ndcg@20"].estimate - 0.1) < 1e-9
    assert abs(found["alignment_intent"].estimate - 0.1) < 1e-9 and found["alignment_intent"].decided


def test_curves_whose_older_runs_lack_a_metric_still_compare_at_matched_alignment(tmp_path: Path) -> None:
    """Runs at one lr kept OOD values per JD and those at the other did not (made before): the matched-alignment
    nDCG@20 row is built on the metrics both have, and the OOD rows appear only where every run has them."""
    rng = np.random.default_rng(4)
    base = rng.uniform(0.3, 0.7, size=50)
    for lr, shift in ((1e-5, 0.0), (1e-4, 0.1)):
        write_run(tmp_path, "rankpo", lr, 0, base, 0.6 + shift + 0 * base)
        write_run(tmp_path, "sft", lr, 0, base - 0.1 - shift, 0.62 + shift + 0 * base)
    for method in ("rankpo", "sft"):  # only the newer lr kept OOD values
        run = tmp_path / f"{method}_0.0001_0"
        values = json.loads((run / "per_query.json").read_text())
        values["test"]["ood_ndcg@20"] = {f"ood-{j}": 0.5 for j in range(30)}
        (run / "per_query.json").write_text(json.dumps(values))
    found = {(c.setting, c.metric) for c in comparisons(collect_runs([str(tmp_path)]))}
    assert ("lr 0.0001", "ood_ndcg@20") in found and ("lr 1e-05", "ood_ndcg@20") not in found
    assert any(setting.startswith("alignment") and metric == "ndcg@20" for setting, metric in found)
