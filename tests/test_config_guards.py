"""Options refused in one line before any data or weights load: unknown keys of the model, judge and
fairness nodes, the trainer's precision and length, LoRA rank, pooling, token limits beyond the model's
positions, the synthetic data's seed and overrides; and an evaluation JD whose positive is not in the corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jobmatch.app.annotate_task as annotate_task
import jobmatch.app.train_task as train_task
from jobmatch.app.builders import build_datamodule
from jobmatch.app.validation import validate_config
from jobmatch.errors import ConfigError, UserError
from tests.helpers import FIXTURES, cfg_for, compose_config

BASE = ["model=tiny_bert", "logger=none"]
SYNTHETIC = [*BASE, "data=synthetic_small"]
# (config, overrides, the whole start of the one-line message: option=value: problem; fix)
BAD = [
    ("train", [*BASE, "trainer.precision=fp13"],
     r"trainer\.precision=fp13: expected one of .*bf16-mixed.*; pass e\.g\."),
    ("train", [*BASE, "model.lora.r=0"], r"model\.lora\.r=0: out of range: expected an integer >= 1; pass e\.g\."),
    ("train", [*BASE, "model.pooling=bogus"], r"model\.pooling=bogus: expected one of cls, mean, last_token;"),
    ("train", [*BASE, "+model.poolin=mean"], r"model\.poolin=mean: unknown option; did you mean model\.pooling\?"),
    ("train", [*BASE, "+model.lora.rank=4"], r"model\.lora\.rank=4: unknown option; "),
    ("annotate", [*BASE, "+judge.modle=x"], r"judge\.modle=x: unknown option; did you mean judge\.model\?"),
    ("audit", [*BASE, "+fairness.n_bootstraps=10"],
     r"fairness\.n_bootstraps=10: unknown option; did you mean fairness\.n_bootstrap\?"),
    ("train", [*BASE, "trainer.max_steps=0"], r"trainer\.max_steps=0: trains nothing .*; pass trainer\.max_steps=-1"),
    ("train", [*BASE, "trainer.max_epochs=0"], r"trainer\.max_epochs=0: trains nothing"),
    ("train", [*BASE, "data.max_query_length=100000"],
     r"data\.max_query_length=100000: beyond the model's 512 positions \(max_position_embeddings in model\.config\)"),
    ("train", [*BASE, "data.max_passage_length=513"], r"data\.max_passage_length=513: beyond the model's 512"),
    ("train", ["model=minilm", "logger=none", "data.max_passage_length=1024"],
     r"data\.max_passage_length=1024: beyond the model's 512 positions \(max_position_embeddings in .*config\.json\)"),
    ("train", [*SYNTHETIC, "data.synthetic.seed=abc"], r"data\.synthetic\.seed=abc: expected an integer;"),
    ("train", [*SYNTHETIC, "data.synthetic.overrides={n_talent: 5}"],
     r"data\.synthetic\.overrides\.n_talent=5: unknown option; did you mean data\.synthetic\.overrides\.n_talents\?"),
    ("train", [*SYNTHETIC, "data.synthetic.overrides={n_talents: -5}"],
     r"data\.synthetic\.overrides\.n_talents=-5: invalid; "),
]


@pytest.mark.parametrize(("config", "overrides", "message"), BAD, ids=[" ".join(b[1][2:]) for b in BAD])
def test_refused_in_one_line(config: str, overrides: list[str], message: str, tmp_path: Path) -> None:
    cfg = compose_config([*overrides, f"paths.run_dir={tmp_path}"], config_name=config)
    with pytest.raises(ConfigError) as error:
        validate_config(cfg)
    assert "\n" not in str(error.value)
    assert error.match("^" + message)


@pytest.mark.parametrize("overrides", [
    ["trainer.precision=bf16-mixed"], ["trainer.precision=32"], ["trainer.precision=16-mixed"],
    ["data.max_query_length=512", "data.max_passage_length=512"], ["trainer.max_steps=-1"], ["trainer.max_steps=3"],
    ["data=synthetic_small", "data.synthetic.overrides={n_talents: 2000, judge_noise: 0.5}"],
    ["model=smollm2_135m"], ["model=llama3_2_1b"], ["judge=openai", "judge.model=x"], ["model.lora.enabled=false"],
])
def test_good_values_pass(overrides: list[str]) -> None:
    validate_config(compose_config([*BASE, *overrides], config_name="pipeline"))  # every group


@pytest.fixture
def nothing_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the data were loaded before the refusal")

    monkeypatch.setattr(train_task, "build_datamodule", refuse)
    monkeypatch.setattr(annotate_task, "ranked_sets", refuse)


@pytest.mark.parametrize("override", ["model.pooling=bogus", "trainer.precision=fp13", "model.lora.r=0"])
def test_train_refuses_before_data_load(fast_cfg, override: str, nothing_loads: None) -> None:
    with pytest.raises(ConfigError, match="^" + override.replace(".", r"\.")):
        train_task.train(fast_cfg(override))


def test_annotate_refuses_a_judge_typo_before_encoding(tmp_path: Path, nothing_loads: None) -> None:
    cfg = cfg_for("annotate", tmp_path, "+judge.modle=x", f"data.test_file={FIXTURES / 'contrastive_tiny.jsonl'}")
    with pytest.raises(ConfigError, match=r"^judge\.modle=x: unknown option; did you mean judge\.model\?"):
        annotate_task.run(cfg)
    assert not (tmp_path / "run").exists()


def test_evaluation_jd_whose_positive_is_not_in_the_corpus_names_the_file(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (FIXTURES / "contrastive_tiny.jsonl").read_text().splitlines()]
    corpus = tmp_path / "corpus.jsonl"
    talents = sorted({t for row in rows for t in row["positives"] + row["negatives"]})
    corpus.write_text("".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(talents)))
    test = tmp_path / "test.jsonl"
    test.write_text(json.dumps({**rows[0], "query_id": "jd7", "positives": ["A talent nobody indexed"]}) + "\n")
    cfg = cfg_for("evaluate", tmp_path, f"data.test_file={test}", f"data.corpus_file={corpus}")
    with pytest.raises(UserError) as error:
        build_datamodule(cfg).test_retrieval()
    assert str(error.value) == (f'{test}: JD jd7: a positive is not in the corpus {corpus} ("A talent nobody '
                                'indexed"); fix: add that talent to the corpus file, or give this split\'s JDs and '
                                'the corpus from the same dataset')
