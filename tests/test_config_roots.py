"""Each task's root composes only the groups it reads, and a step of a pipeline is checked on its own nodes."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from jobmatch.app.config_tree import root_nodes
from jobmatch.app.pipeline_task import stage1_key, stage2_config, stage2_key
from jobmatch.app.run_config import check_rerun, task_nodes
from jobmatch.app.run_dir import keep_own_nodes, resolve_run_dir
from jobmatch.app.steps import step_config, step_fingerprint
from jobmatch.errors import ConfigError
from tests.helpers import FAST, compose_config

STAGE2 = {"stage2", "trainer2", "acceptance"}
ANNOTATION = {"judge", "annotate"}
CURRICULUM = {"mining", "curriculum"}
# root: (nodes it must have, nodes it must not have)
ROOTS = {
    "train": ({"model", "data", "stage", "trainer", "eval", "seed", "resume"},
              STAGE2 | ANNOTATION | CURRICULUM | {"fairness", "ckpt"}),
    "evaluate": ({"model", "data", "eval", "ckpt", "seed"}, STAGE2 | ANNOTATION | CURRICULUM | {"stage", "resume"}),
    "annotate": ({"model", "data", "eval", "judge", "annotate", "ckpt"}, STAGE2 | CURRICULUM | {"stage", "fairness"}),
    "audit": ({"model", "data", "eval", "judge", "fairness", "ckpt"}, STAGE2 | CURRICULUM | {"stage", "annotate"}),
    "mine": ({"model", "data", "eval", "mining", "ckpt", "round"}, STAGE2 | ANNOTATION | {"stage", "curriculum"}),
    "curriculum": ({"model", "data", "stage", "trainer", "eval", "mining", "curriculum", "resume"},
                   STAGE2 | ANNOTATION | {"fairness", "ckpt"}),
    "pipeline": ({"stage", "trainer", "eval", "fairness", "resume"} | STAGE2 | ANNOTATION | CURRICULUM, {"ckpt"}),
    "export": ({"model", "data", "ckpt", "out", "seed"}, {"trainer", "stage", "eval", "launch"}),
}


@pytest.mark.parametrize("root", sorted(ROOTS))
def test_each_root_composes_only_what_its_task_reads(root: str, tmp_path: Path) -> None:
    overrides = ["ckpt=null", "out=x"] if root == "export" else []
    cfg = compose_config([*overrides, f"paths.run_dir={tmp_path}"], config_name=root)
    has, lacks = ROOTS[root]
    assert has <= set(cfg), has - set(cfg)
    assert not lacks & set(cfg), lacks & set(cfg)
    assert set(root_nodes(root)) == set(cfg)
    assert cfg.task_name == root


@pytest.mark.parametrize("root", ["train", "evaluate", "annotate", "audit", "pipeline"])
def test_the_demo_preset_composes_for_every_root_that_uses_it(root: str, tmp_path: Path) -> None:
    """Its pipeline settings (stage2, annotate, acceptance, ...) land in other roots too; the entry point then
    leaves out the nodes that its root does not compose."""
    cfg = compose_config(["experiment=demo", f"paths.run_dir={tmp_path}"], config_name=root)
    assert "demo" in cfg.tags and cfg.data.synthetic.preset == "synthetic_small"
    keep_own_nodes(cfg, root)
    assert set(cfg) <= set(root_nodes(root))
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation still resolves


def pipeline_run(tmp_path: Path, *overrides: str):
    return compose_config([*FAST, *overrides], tmp_path / "pipeline", "pipeline", output_dir=tmp_path / "out")


def test_a_pipelines_training_step_reads_only_the_train_nodes(tmp_path: Path) -> None:
    step_dir = tmp_path / "pipeline" / "stage1" / "round0" / "train"
    step = step_config(pipeline_run(tmp_path), "train", step_dir)
    assert set(step) == set(root_nodes("train"))
    resolve_run_dir(step)  # the step's config.yaml, as its first run saves it
    changed = step_config(pipeline_run(tmp_path, "judge.seed=7", "annotate.pairs_per_query=3"), "train", step_dir)
    assert check_rerun(changed, step_dir) == []  # the judge and annotation are no part of the training step
    retrained = step_config(pipeline_run(tmp_path, "stage.optim.lr=0.5"), "train", step_dir)
    with pytest.raises(ConfigError, match=r"stage\.optim\.lr: 0\.0001 -> 0\.5"):
        check_rerun(retrained, step_dir)


def test_a_run_directory_saved_with_every_group_still_resumes(tmp_path: Path) -> None:
    """A train run directory written when every task composed every group holds judge, mining, stage2, ...:
    the rerun compares only the nodes train reads."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    OmegaConf.save(pipeline_run(tmp_path, "paths.run_dir=" + str(run_dir)), run_dir / "config.yaml", resolve=True)
    train = compose_config([*FAST, f"paths.run_dir={run_dir}"], config_name="train")
    assert check_rerun(train, run_dir) == []
    with pytest.raises(ConfigError, match=r"seed: 42 -> 3"):
        check_rerun(compose_config([*FAST, f"paths.run_dir={run_dir}", "seed=3"], config_name="train"), run_dir)


def test_step_fingerprints_are_those_of_the_nodes_each_step_reads(tmp_path: Path) -> None:
    """The curriculum and stage-2 fingerprints hash the nodes of their task's root: the same nodes as the lists
    pipelines were fingerprinted with before each task had a root, so those run directories resume."""
    cfg = pipeline_run(tmp_path)
    assert {*task_nodes(step_config(cfg, "curriculum", tmp_path))} == {
        "model", "data", "stage", "trainer", "mining", "curriculum", "eval", "seed"}
    assert stage1_key(cfg) == step_fingerprint({k: cfg[k] for k in ("model", "data", "stage", "trainer", "mining",
                                                                     "curriculum", "eval", "seed")})
    pairs = tmp_path / "pairs"
    sub = stage2_config(cfg, tmp_path / "pipeline", "stage1.ckpt", pairs)
    assert stage2_key(sub, pairs) == step_fingerprint(
        {k: sub[k] for k in ("model", "data", "stage", "trainer", "eval", "seed")} | {"pairs": str(pairs)})
    assert stage1_key(pipeline_run(tmp_path, "judge.seed=7")) == stage1_key(cfg)
