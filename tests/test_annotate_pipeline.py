"""The annotation pipeline: rank with a checkpoint, sample pairs, judge, write split preference files."""

import json
from pathlib import Path

import numpy as np
import pytest

from experiments.benchmarks.judge_server import FakeChatServer
from jobmatch.annotate.sampling import sample_rank_pairs
from jobmatch.app.annotate_task import run
from jobmatch.app.train_task import train
from jobmatch.data.readers import read_contrastive, read_preferences
from jobmatch.errors import UserError
from tests.helpers import FAST, FIXTURES, cfg_for, compose_config, split_files

FIXTURE = FIXTURES / "contrastive_tiny.jsonl"


def test_uniform_pairs_are_distinct_and_in_range() -> None:
    pairs = sample_rank_pairs(10, 30, rng=np.random.default_rng(0))
    assert len(pairs) == 30 and len({tuple(sorted(p)) for p in pairs}) == 30
    assert all(0 <= i < 10 and 0 <= j < 10 and i != j for i, j in pairs)
    assert {i < j for i, j in pairs} == {True, False}  # both presentation orders occur
    assert len(sample_rank_pairs(4, 100, rng=np.random.default_rng(0))) == 6  # capped at 4·3/2


def test_stratified_pairs_cover_every_gap_stratum() -> None:
    pairs = sample_rank_pairs(100, 60, strategy="stratified", rng=np.random.default_rng(1))
    gaps = [abs(i - j) for i, j in pairs]
    assert any(g < 5 for g in gaps) and any(5 <= g < 20 for g in gaps) and any(g >= 20 for g in gaps)
    with pytest.raises(ValueError, match=r"^strategy=.best. is not one of"):
        sample_rank_pairs(10, 2, strategy="best", rng=np.random.default_rng(0))


@pytest.fixture(scope="module")
def stage1_ckpt(tmp_path_factory: pytest.TempPathFactory) -> str:
    return train(compose_config(FAST, run_dir=tmp_path_factory.mktemp("stage1") / "run"))["checkpoint/best"]


def test_offline_judge_end_to_end(tmp_path: Path, stage1_ckpt: str) -> None:
    cfg = cfg_for("annotate", tmp_path, f"ckpt={stage1_ckpt}", *split_files(tmp_path),
                  "annotate.pairs_per_query=5", "annotate.test_pairs_per_query=3", "annotate.top_k=20")
    summary = run(cfg)
    run_dir = Path(cfg.paths.run_dir)
    pairs = {split: read_preferences(run_dir / f"preferences_{split}.jsonl") for split in ("train", "val", "test")}
    assert [len(p) for p in pairs.values()] == [40, 6, 6]  # 8 train JDs x 5; 2 val and 2 test JDs x 3
    assert summary["annotate/annotated"] == 52 and summary["annotate/failed"] == 0
    train_queries = {r.query for r in read_contrastive(tmp_path / "train.jsonl")}
    assert {p.query for p in pairs["train"]} <= train_queries
    assert not {p.query for p in pairs["test"]} & train_queries
    first = pairs["train"][0]
    assert first.model.startswith("offline") and 0 <= first.passage_rank1 < 20 and first.response
    assert "Preferred:" in first.response
    again = run(cfg)  # deterministic for a seed
    assert read_preferences(run_dir / "preferences_train.jsonl") == pairs["train"]
    assert again["annotate/annotated"] == 52


@pytest.mark.parametrize(("preset", "at_least"), [("synthetic_small", 600), ("synthetic", 2000)])
def test_default_test_pair_budget_of_the_presets(preset: str, at_least: int) -> None:
    """Computed from the configs alone: test JDs x the held-out budget, capped at top_k·(top_k-1)/2 per JD."""
    from jobmatch.app.annotate_task import pairs_per_query
    from jobmatch.data.synthetic.config import preset as synthetic_preset

    cfg = compose_config([f"data={preset}"], config_name="annotate")
    _, _, n_test = synthetic_preset(str(cfg.data.synthetic.preset)).split_sizes()
    top_k = int(cfg.annotate.top_k)
    per_jd = min(pairs_per_query(cfg.annotate, "test"), top_k * (top_k - 1) // 2)
    assert n_test * per_jd >= at_least
    assert pairs_per_query(cfg.annotate, "train") == int(cfg.annotate.pairs_per_query)


def test_openai_judge_through_the_pipeline(tmp_path: Path, stage1_ckpt: str, monkeypatch) -> None:
    monkeypatch.setenv("JOBMATCH_TEST_KEY", "sk-test-SECRET-0123456789")
    with FakeChatServer() as server:
        overrides = [f"ckpt={stage1_ckpt}", *split_files(tmp_path), "annotate.pairs_per_query=2",
                     "annotate.test_pairs_per_query=2",
                     "annotate.top_k=10", "judge=openai", f"judge.base_url={server.url}",
                     "judge.model=fake-judge", "judge.api_key_env=JOBMATCH_TEST_KEY", "judge.progress=false"]
        summary = run(cfg_for("annotate", tmp_path, *overrides))
        first_requests = server.requests
        # Texts carry no quality markers: the fake judge prefers A with confidence 50 — a parsed verdict.
        assert summary["annotate/annotated"] == 24
        again = run(cfg_for("annotate", tmp_path, *overrides))
        assert again["annotate/annotated"] == 24
        assert server.requests == first_requests  # every answer came from the cache
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert "SECRET-0123456789" not in path.read_text(errors="ignore"), path
    pairs = read_preferences(Path(tmp_path / "run" / "preferences_train.jsonl"))
    assert pairs[0].model == "fake-judge"
    assert json.loads((tmp_path / "run" / "results.json").read_text())["annotate/requested"] == 24


def judge_overrides(tmp_path: Path, ckpt: str, url: str) -> list[str]:
    return [f"ckpt={ckpt}", *split_files(tmp_path), "annotate.pairs_per_query=2", "annotate.test_pairs_per_query=2",
            "annotate.top_k=10",
            "judge=local", f"judge.base_url={url}", "judge.model=fake-judge", "judge.progress=false",
            "judge.max_attempts=1", "judge.timeout=5"]


def test_unreachable_judge_fails_with_counts(tmp_path: Path, stage1_ckpt: str) -> None:
    cfg = cfg_for("annotate", tmp_path, *judge_overrides(tmp_path, stage1_ckpt, "http://127.0.0.1:9/v1"))
    with pytest.raises(UserError, match=r"only 0/24 pairs annotated \(24 failed, 0 of them unparseable\); "
                                        r"first error: failed: .*failures\.jsonl"):
        run(cfg)
    assert len((tmp_path / "run" / "failures.jsonl").read_text().splitlines()) == 24


def test_unparseable_answers_fail_then_are_reasked_after_the_fix(tmp_path: Path, stage1_ckpt: str) -> None:
    with FakeChatServer() as server:
        cfg = cfg_for("annotate", tmp_path, *judge_overrides(tmp_path, stage1_ckpt, server.url))
        server.broken = True
        with pytest.raises(UserError, match=r"0/24 pairs annotated \(24 failed, 24 of them unparseable\)"):
            run(cfg)
        server.broken = False
        summary = run(cfg)
    assert summary["annotate/annotated"] == 24 and summary["annotate/unparseable"] == 0
    assert summary["judge/reasked"] == 24 and summary["judge/cached"] == 0
