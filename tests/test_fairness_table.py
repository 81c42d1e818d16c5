"""The short fairness table of several audit run directories (``python -m jobmatch.report.fairness_report``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jobmatch.report.fairness_report import main


def _audit(path: Path, change: float, ratio: float, flagged: int) -> Path:
    path.mkdir(parents=True)
    results = {"audit/gender/topk_change@20": change, "audit/gender/topk_change@20_ci_low": change - 0.01,
               "audit/gender/topk_change@20_ci_high": change + 0.01, "audit/gender/min_impact_ratio@20": ratio,
               "audit/gender/impact_ratio@20/woman": ratio, "audit/gender/impact_ratio@20/man": 1.0,
               "audit/gender/flagged@20": flagged}
    (path / "results.json").write_text(json.dumps(results))
    return path


def test_rows_follow_the_directories_given_and_missing_results_fail_clearly(tmp_path: Path, capsys) -> None:
    rankpo = _audit(tmp_path / "rankpo", 0.05, 0.9, 0)
    stage1 = _audit(tmp_path / "stage1", 0.12, 0.7, 1)
    main([str(stage1), str(rankpo)])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| stage1") or
            line.startswith("| rankpo")]
    assert rows == ["| stage1 | gender | 0.120 [0.110, 0.130] | 0.700 | 1 | — | — |",
                    "| rankpo | gender | 0.050 [0.040, 0.060] | 0.900 | 0 | — | — |"]
    with pytest.raises(FileNotFoundError, match=r"no audit results\.json"):
        main([str(stage1), str(tmp_path / "sft")])


def test_audits_with_per_jd_values_get_paired_difference_rows(tmp_path: Path, capsys) -> None:
    """Each directory after the first is compared with the first on the JDs both audited."""
    from jobmatch.retrieval.fairness_audit import AUDIT_PER_QUERY_FILE, AttributeValues, AuditValues

    def values(path: Path, change: list[float], top_women: int) -> None:
        top = np.array([[20 - top_women, top_women]] * len(change))  # [Q, G]: man, woman
        attribute = AttributeValues(["man", "woman"], np.array([[5, 5]] * len(change)), {20: top},
                                    {"topk_change@20": np.array(change)}, 100)
        (path / AUDIT_PER_QUERY_FILE).write_text(json.dumps(
            AuditValues([f"jd{i}" for i in range(len(change))], 100, {"gender": attribute}).to_json()))

    stage1 = _audit(tmp_path / "stage1", 0.2, 0.8, 0)
    rankpo = _audit(tmp_path / "rankpo", 0.1, 1.0, 0)
    values(stage1, [0.2] * 10, top_women=8)
    values(rankpo, [0.1] * 10, top_women=10)
    main([str(stage1), str(rankpo)])
    out = capsys.readouterr().out
    # stage 1 gives women 8 of 20 slots at equal relevance: lowest impact ratio 0.4 / 0.6; RankPO 10 of 20: 1.0
    assert "| Δ rankpo − stage1 | gender | -0.100 [-0.100, -0.100] | 0.333 [0.333, 0.333] | — | — | — |" in out
    assert ("Δ rankpo − stage1, paired over 10 test JDs: decided (95% interval excludes 0): gender top-20 change "
            "-0.100 [-0.100, -0.100]; gender lowest impact ratio +0.333 [+0.333, +0.333].") in out


def test_audits_over_different_jds_are_not_paired(tmp_path: Path, capsys) -> None:
    from jobmatch.errors import UserError
    from jobmatch.retrieval.fairness_audit import AUDIT_PER_QUERY_FILE, AttributeValues, AuditValues

    def values(path: Path, n_jds: int) -> Path:
        attribute = AttributeValues(["man", "woman"], np.array([[5, 5]] * n_jds), {20: np.array([[10, 10]] * n_jds)},
                                    {"topk_change@20": np.full(n_jds, 0.1)}, 100)
        (path / AUDIT_PER_QUERY_FILE).write_text(json.dumps(
            AuditValues([f"jd{i}" for i in range(n_jds)], 100, {"gender": attribute}).to_json()))
        return path

    wide = values(_audit(tmp_path / "wide", 0.2, 0.8, 0), 30)
    narrow = values(_audit(tmp_path / "narrow", 0.1, 1.0, 0), 6)
    with pytest.raises(UserError, match=r"narrow: audited 6 test JDs against 100 talents, .*wide 30 against 100 "
                                        r"\(6 JDs in common\); paired differences need audits of the same test set"):
        main([str(wide), str(narrow)])
    assert "Δ narrow" not in capsys.readouterr().out
