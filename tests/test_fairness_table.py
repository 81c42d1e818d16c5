"""The short fairness table of several audit run directories (``python -m jobmatch.report.fairness_report``)."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert rows == ["| stage1 | gender | 0.120 [0.110, 0.130] | 0.700 | 1 |",
                    "| rankpo | gender | 0.050 [0.040, 0.060] | 0.900 | 0 |"]
    with pytest.raises(FileNotFoundError, match=r"no audit results\.json"):
        main([str(stage1), str(tmp_path / "sft")])
