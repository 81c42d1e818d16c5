"""Every conf/judge/*.yaml composes into the real config tree and builds a Judge (no request is sent)."""

from pathlib import Path

import pytest

from jobmatch.annotate.openai_judge import OpenAIJudge
from jobmatch.app.judge_builder import build_judge
from jobmatch.data.judgement import Judge
from tests.helpers import CONF, compose_config

JUDGES = sorted(p.stem for p in (CONF / "judge").glob("*.yaml"))


@pytest.mark.parametrize("name", JUDGES)
def test_judge_configs_build(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "jm-config-test-key")
    cfg = compose_config([f"judge={name}"], run_dir=tmp_path / "run", config_name="annotate")
    assert cfg.judge.name == name
    judge = build_judge(cfg.judge)
    assert isinstance(judge, Judge)
    if isinstance(judge, OpenAIJudge):
        assert judge.cache is not None and judge.cache.path.is_relative_to(tmp_path)
        assert "jm-config-test-key" not in repr(judge)
        judge.close()


def test_paper_default_is_deepseek(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    cfg = compose_config(["judge=openai"], run_dir=tmp_path / "run", config_name="annotate")
    assert (cfg.judge.base_url, cfg.judge.model, cfg.judge.api_key_env) == (
        "https://api.deepseek.com",
        "deepseek-chat",
        "DEEPSEEK_API_KEY",
    )
    with pytest.raises(RuntimeError, match="DEEPSEEK_API_KEY"):
        build_judge(cfg.judge)


def test_build_judge_refuses_what_is_not_a_judge() -> None:
    with pytest.raises(ValueError, match="_target_"):
        build_judge({"name": "x"})
    with pytest.raises(ValueError, match="not a Judge"):
        build_judge({"_target_": "collections.OrderedDict", "name": "x"})
