"""The sweep report on fabricated run directories, including a failed run."""

import json
from pathlib import Path

import yaml

from jobmatch.report.__main__ import main
from jobmatch.report.sweep import collect_runs, sweep_table
from tests.helpers.reports import fake_run


def test_table_groups_seeds_and_lists_failed_runs(tmp_path: Path) -> None:
    fake_run(tmp_path, "0", "rankpo", 1e-5, 0, 0.48, 0.62)
    fake_run(tmp_path, "1", "rankpo", 1e-5, 1, 0.46, 0.66)
    fake_run(tmp_path, "2", "sft", 1e-5, 0, 0.30, 0.64)
    fake_run(tmp_path, "3", "simrankpo", 1e-5, 0, None)  # failed: no results.json
    runs = collect_runs([str(tmp_path)])
    table = sweep_table(runs)
    assert "| rankpo | 1e-05 | 2 | 0.4700 ± 0.0141 |" in table
    assert "| sft | 1e-05 | 1 | 0.3000 |" in table
    assert "| stage 1 (start) | — | — | 0.5000 |" in table
    assert "3: missing results" in table


def test_cli_writes_report_and_figures(tmp_path: Path, capsys) -> None:
    for i, lr in enumerate((1e-6, 1e-5)):
        fake_run(tmp_path / "sweep", f"r{i}", "rankpo", lr, 0, 0.5 - i * 0.05, 0.55 + i * 0.1)
        fake_run(tmp_path / "sweep", f"s{i}", "sft", lr, 0, 0.45 - i * 0.1, 0.56 + i * 0.08)
    (tmp_path / "sweep" / "broken").mkdir()
    (tmp_path / "sweep" / "broken" / "config.yaml").write_text("stage: {name: rankpo_hinge}\n")
    (tmp_path / "sweep" / "broken" / "results.json").write_text("{not json")
    main([str(tmp_path / "sweep")])
    out = tmp_path / "sweep"
    assert "unreadable results.json" in (out / "report.md").read_text()
    for name in ("alignment_vs_lr.png", "ndcg_vs_lr.png", "tradeoff.png"):
        assert (out / name).stat().st_size > 1000
    assert "| rankpo | 1e-06 |" in capsys.readouterr().out


def test_table_shows_intent_and_the_ood_split_beside_alignment(tmp_path: Path) -> None:
    fake_run(tmp_path, "0", "rankpo", 1e-4, 0, 0.48, 0.62)
    results = tmp_path / "0" / "results.json"
    metrics = json.loads(results.read_text()) | {"test/alignment_intent": 0.71, "test_ood/ndcg@20": 0.44,
                                                  "stage1/alignment_intent": 0.65, "stage1/test_ood/ndcg@20": 0.47}
    results.write_text(json.dumps(metrics))
    table = sweep_table(collect_runs([str(tmp_path)]))
    assert "| alignment | intent | OOD nDCG@20 | Δ nDCG@20 |" in table
    assert "| stage 1 (start) | — | — | 0.5000 | 0.9000 | 0.5000 | 0.6500 | 0.4700 | — | — |" in table
    assert "| rankpo | 0.0001 | 1 | 0.4800 | 0.9000 | 0.6200 | 0.7100 | 0.4400 | -0.0200 | 0.1200 |" in table


def fake_pipeline(root: Path, stage2_lr: float) -> Path:
    """A pipeline's directory as the pipeline leaves it: its own config (stage 1 in ``stage``, stage 2 in
    ``stage2``) and results (stage 2's), and step directories whose runs are stage 1's and stage 2's."""
    fake_run(root, "stage2", "rankpo", stage2_lr, 0, 0.45)
    fake_run(root / "stage1" / "round0", "eval", "contrastive", 3e-4, 0, 0.5)  # stage 1's test metrics
    for step in ("stage1", "stage2"):
        (root / step / "step.json").write_text('{"fingerprint": "0"}\n')
    (root / "config.yaml").write_text(yaml.safe_dump({
        "task_name": "pipeline", "seed": 0, "stage": {"name": "contrastive", "optim": {"lr": 3e-4}},
        "stage2": {"name": "rankpo", "optim": {"lr": stage2_lr}}}))
    (root / "results.json").write_text((root / "stage2" / "results.json").read_text())
    return root


def test_a_pipeline_directory_is_labelled_by_its_stage2_once(tmp_path: Path) -> None:
    one = fake_pipeline(tmp_path / "multirun" / "0", 5e-4)
    fake_pipeline(tmp_path / "multirun" / "1", 1e-3)

    alone = sweep_table(collect_runs([str(one)]))
    assert "| rankpo | 0.0005 | 1 | 0.4500 |" in alone and "contrastive" not in alone

    both = sweep_table(collect_runs([str(tmp_path / "multirun")]))
    assert "| rankpo | 0.0005 | 1 |" in both and "| rankpo | 0.001 | 1 |" in both and "contrastive" not in both
    # a step directory given by itself is the run it holds
    assert "| contrastive | 0.0003 | 1 |" in sweep_table(collect_runs([str(one / "stage1" / "round0" / "eval")]))
