"""validate_config: every bad value, typo and unknown key fails at once, naming the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobmatch.app.validation import validate_config
from jobmatch.errors import ConfigError
from tests.helpers import CONF, compose_config

BASE = ["model=tiny_bert", "logger=none"]
# (overrides, the option the one-line message must name)
BAD = [
    (["data.on_error=rasie"], "data.on_error=rasie"),
    (["data.max_query_length=0"], "data.max_query_length=0"),
    (["stage.optim.warmup_ratio=2"], "stage.optim.warmup_ratio=2"),
    (["stage.temperature=0"], "stage.temperature=0"),
    (["data.n_negatives=-1"], "data.n_negatives=-1"),
    (["data.batch_size=0"], "data.batch_size=0"),
    (["stage.optim.lr=abc"], "stage.optim.lr=abc"),
    (["trainer.max_steps=abc"], "trainer.max_steps=abc"),
    (["mining.margin=-1"], "mining.margin=-1"),
    (["mining.n_clusters=0"], "mining.n_clusters=0"),
    (["eval.baselines=[bm42]"], "eval.baselines=[bm42]"),
    (["annotate.pairs_per_query=0"], "annotate.pairs_per_query=0"),
    (["annotate.test_pairs_per_query=0"], "annotate.test_pairs_per_query=0"),
    (["annotate.min_success=2"], "annotate.min_success=2"),
    (["annotate.min_success=-0.1"], "annotate.min_success=-0.1"),
    (["+data.batchsize=4"], "data.batchsize=4"),
    (["eval.k=10", "eval.cutoffs=[5,50]"], "eval.cutoffs=[5, 50]"),
    (["+stage.optim.warmup_ratoi=0.2"], "stage.optim.warmup_ratoi=0.2"),
    (["+trainer.max_step=5"], "trainer.max_step=5"),
    (["stage=rankpo", "stage.beta=0"], "stage.beta=0"),
    (["stage=rankpo", "stage.loss_type=hinge", "stage.label_smoothing=0.1"], "stage.label_smoothing=0.1"),
    (["mining.window_start=50", "mining.window_end=50"], "mining.window_end=50"),
    (["curriculum.mode=combnied"], "curriculum.mode=combnied"),
]


@pytest.mark.parametrize(("overrides", "option"), BAD, ids=[b[1] for b in BAD])
def test_bad_value_raises_config_error_naming_the_option(overrides: list[str], option: str) -> None:
    cfg = compose_config([*BASE, *overrides], config_name="pipeline")
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    message = str(err.value)
    assert message.startswith(option + ":"), message
    assert "\n" not in message and "; " in message  # one line: problem; fix


@pytest.mark.parametrize(
    ("overrides", "fix"),
    [
        (["data.on_error=rasie"], "did you mean data.on_error=raise?"),
        (["+data.batchsize=4"], "did you mean data.batch_size?"),
        (["eval.baselines=[bm42]"], "did you mean eval.baselines=[bm25]?"),
        (["eval.k=10", "eval.cutoffs=[5,50]"], "pass eval.k=50"),
        (["stage.optim.warmup_ratio=2"], "in [0, 1]"),
    ],
)
def test_the_message_names_the_fix(overrides: list[str], fix: str) -> None:
    with pytest.raises(ConfigError, match=fix.replace("[", r"\[").replace("?", r"\?")):
        validate_config(compose_config([*BASE, *overrides], config_name="pipeline"))


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize(
    "override",
    [
        *(
            f"{group}={name}"
            for group in ("data", "stage", "trainer", "curriculum", "model", "mining", "eval")
            for name in _options(group)
        ),
        *(f"experiment={name}" for name in _options("experiment")),
        "stage@stage2=sft",
    ],
)
def test_every_shipped_config_is_valid(override: str) -> None:
    validate_config(compose_config([override], config_name="pipeline"))


@pytest.mark.parametrize("name", ["train", "evaluate", "mine", "annotate", "curriculum", "pipeline"])
def test_every_task_config_is_valid(name: str, tmp_path: Path) -> None:
    validate_config(compose_config([f"paths.run_dir={tmp_path}"], config_name=name))


def test_good_values_at_the_edges_pass() -> None:
    validate_config(
        compose_config(
            [
                *BASE,
                "data.n_negatives=0",
                "stage.optim.warmup_ratio=1",
                "mining.margin=null",
                "eval.k=20",
                "eval.cutoffs=[1,20]",
                "eval.baselines=[]",
                "trainer.max_steps=-1",
                "stage.optim.lr=1",
                "+stage.optim.warmup_steps=10",
            ],
            config_name="pipeline",
        )
    )


@pytest.mark.parametrize(
    ("module", "function", "config"),
    [
        ("jobmatch.app.train_task", "train", "train"),
        ("jobmatch.app.evaluate_task", "evaluate", "evaluate"),
        ("jobmatch.app.mine_task", "mine", "mine"),
        ("jobmatch.app.annotate_task", "run", "annotate"),
        ("jobmatch.app.curriculum_task", "curriculum", "curriculum"),
        ("jobmatch.app.pipeline_task", "pipeline", "pipeline"),
    ],
)
def test_every_task_validates_its_config_first(module: str, function: str, config: str, tmp_path: Path) -> None:
    import importlib

    from tests.helpers import FAST

    cfg = compose_config([*FAST, "+data.batchsize=4"], tmp_path / "run", config, output_dir=tmp_path)
    task = getattr(importlib.import_module(module), function)
    with pytest.raises(ConfigError, match=r"^data\.batchsize=4: unknown option"):
        task(cfg)
    assert not (tmp_path / "run").exists()  # nothing was started


def test_search_and_score_refuses_cutoffs_above_k() -> None:
    """The library guard behind eval.cutoffs: recall@50 of a top-10 search would be recall@10."""
    import numpy as np

    from jobmatch.app.schema.names import option_message
    from jobmatch.data.records import ContrastiveRecord
    from jobmatch.data.retrieval_set import build_retrieval_set
    from jobmatch.retrieval.encoder_eval import search_and_score

    rset = build_retrieval_set([ContrastiveRecord(query="q", positives=("p",), negatives=("n",))], None)
    query = np.ones((1, 4), dtype=np.float32)
    corpus = np.ones((len(rset.corpus), 4), dtype=np.float32)
    with pytest.raises(ConfigError, match=r"^cutoffs=\[5, 50\]: cutoff 50 is above k=10; pass k=50") as error:
        search_and_score(rset, query, corpus, k=10, cutoffs=(5, 50))  # the library names its arguments ...
    assert option_message(error.value).startswith(  # ... and the application the options that set them
        "eval.cutoffs=[5, 50]: cutoff 50 is above eval.k=10; pass eval.k=50")
    assert "recall@1" in search_and_score(rset, query, corpus, k=10, cutoffs=(1,)).metrics
