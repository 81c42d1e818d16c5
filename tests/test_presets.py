"""Every experiment preset and sweep config composes for the entry point its comment names, expands to its
jobs, and runs one fast step on a tiny model; slow tests run the presets' whole entry points on a tiny
synthetic market and real Hydra multiruns (basic sweeper; joblib and Optuna when the sweep extra is installed).
The demo preset's whole pipeline runs in tests/test_pipeline.py.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from jobmatch.app.curriculum_task import curriculum
from jobmatch.app.steps import step_config
from jobmatch.app.train_task import train
from tests.helpers import CONF, FAST, FIXTURES, ROOT, SHARED_SAMPLE, compose_config
from tests.helpers.wandb_records import offline_runs

CONTRASTIVE = FIXTURES / "contrastive_tiny.jsonl"
PAIRS = FIXTURES / "preferences_tiny.jsonl"
ENTRY_CONFIG = {"train": "train", "curriculum": "curriculum", "pipeline": "pipeline"}
# The generated market of data=synthetic* presets, shrunk to seconds.
TINY_MARKET = [
    "+data.synthetic.overrides.n_talents=120",
    "+data.synthetic.overrides.n_jds=40",
    "+data.synthetic.overrides.judge_pairs=50",
]


def has_plugin(name: str) -> bool:
    """Whether a Hydra plugin package is installed (``hydra_plugins`` itself may be absent)."""
    try:
        return importlib.util.find_spec(f"hydra_plugins.{name}") is not None
    except ModuleNotFoundError:
        return False


HAS_SWEEP_EXTRA = all(has_plugin(f"hydra_{n}") for n in ("joblib_launcher", "optuna_sweeper", "submitit_launcher"))
needs_sweep_extra = pytest.mark.skipif(not HAS_SWEEP_EXTRA, reason='needs pip install -e ".[sweep]"')


def names(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def documented_command(path: Path, override: str) -> tuple[str, list[str]]:
    """The primary config and plain overrides (no paths or placeholders) of the first ``python -m jobmatch.X``
    command in a YAML's opening comment that uses the preset."""
    found = re.search(rf"python -m jobmatch\.(\w+) (.*{re.escape(override)}\b.*)", path.read_text())
    assert found, f"{path} opens with no python -m jobmatch... {override} command"
    plain = [t for t in found.group(2).split() if re.fullmatch(r"[a-z_.@]+=[a-z0-9_.,-]+", t)]
    return ENTRY_CONFIG[found.group(1)], plain


def compose_run(
    config_name: str, tmp_path: Path, *overrides: str, hydra: bool = False, own_data: bool = False
) -> DictConfig:
    """The config tree for a tiny CPU run in ``tmp_path`` (``own_data``: keep the preset's data files)."""
    fast = [o for o in FAST if not (own_data and o.startswith("data.train_file="))]
    return compose_config([*fast, *overrides], tmp_path / "run", config_name, output_dir=tmp_path / "out", hydra=hydra)


def sweep_jobs(cfg: DictConfig) -> list[list[str]]:
    """The basic sweeper's jobs for ``hydra.sweeper.params`` (the cartesian product of the choices)."""
    params = [f"{key}={value}" for key, value in (cfg.hydra.sweeper.get("params") or {}).items()]
    parsed = OverridesParser.create().parse_overrides(params)
    axes = [
        [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
        if o.is_sweep_override()
        else [f"{o.get_key_element()}={o.get_value_element_as_str()}"]
        for o in parsed
    ]
    return [list(job) for job in itertools.product(*axes)]


def fixture_data(cfg: DictConfig) -> list[str]:
    """Overrides that point a preset's data at the tiny fixtures (no generation, no ../shared)."""
    out = [
        f"data.train_file={CONTRASTIVE}",
        f"data.test_file={CONTRASTIVE}",
        "data.val_file=null",
        "data.corpus_file=null",
        "++data.test_ood_file=null",
        "++data.synthetic=null",
        f"++data.dir={FIXTURES}",
    ]
    if cfg.stage.get("data_mode") == "preference":
        out += [
            f"data.preference_train_file={PAIRS}",
            "data.preference_val_file=null",
            "data.preference_test_file=null",
        ]
    return out


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one intra-op thread (conftest)


@pytest.fixture(scope="module")
def stage1_ckpt(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny_bert stage-1 checkpoint (one epoch on the contrastive fixture)."""
    root = tmp_path_factory.mktemp("stage1")
    cfg = compose_run("train", root, "stage.optim.lr=1e-3")
    return str(train(cfg)["checkpoint/best"])


PRESETS = [("experiment", n) for n in names("experiment")] + [("sweep", n) for n in names("sweep")]


def preset_override(group: str, name: str) -> str:
    return f"+sweep={name}" if group == "sweep" else f"{group}={name}"


@pytest.mark.parametrize(("group", "name"), PRESETS)
def test_preset_expands_and_runs_one_fast_step(group: str, name: str, tmp_path: Path, stage1_ckpt: str) -> None:
    """Compose for the documented entry point, expand the sweep, run the last job's stage for one batch (on the
    train nodes of that config, as a curriculum's or pipeline's training step does)."""
    primary, documented = documented_command(CONF / group / f"{name}.yaml", preset_override(group, name))
    with_hydra = compose_run(primary, tmp_path, preset_override(group, name), *documented, hydra=True)
    jobs = sweep_jobs(with_hydra)
    if group == "sweep":
        assert len(jobs) > 1, f"sweep {name} defines no choices"
    else:
        assert name in with_hydra.tags
    job = jobs[-1]  # the last combination differs most from the defaults
    run = tmp_path / "run"
    cfg = step_config(compose_run(primary, tmp_path, preset_override(group, name), *documented, *job), "train", run)
    extra = [*fixture_data(cfg), "trainer.fast_dev_run=1", "eval.baselines=[]", "eval.k=20", "eval.cutoffs=[1,5,10,20]"]
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        extra.append("trainer=cpu")  # a GPU preset (experiment=llama3_2_1b_gpu): its other settings run on CPU
    # the paper's token lengths (1280 / 4096) do not fit the tiny stand-in model's 512 positions
    extra += [f"data.{key}=512" for key in ("max_query_length", "max_passage_length") if cfg.data[key] > 512]
    if cfg.stage.get("data_mode") == "preference":
        extra.append(f"stage.init_ckpt={stage1_ckpt}")
    results = train(step_config(compose_run(primary, tmp_path, preset_override(group, name), *documented, *job, *extra),
                                "train", run))
    assert results["trainer/global_step"] == 1
    if cfg.stage.get("evaluate"):
        assert 0.0 <= results["test/alignment"] <= 1.0 and "stage1/ndcg@20" in results


@pytest.mark.parametrize("name", names("hparams_search"))
@needs_sweep_extra
def test_hparams_search_composes_with_an_objective(name: str, tmp_path: Path) -> None:
    cfg = compose_run("train", tmp_path, f"hparams_search={name}", hydra=True)
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper") and cfg.hydra.sweeper.params
    assert cfg.objective.kind == "alignment_retention" and cfg.hydra.sweeper.direction == "maximize"


@pytest.mark.parametrize("name", names("hydra/launcher"))
@needs_sweep_extra
def test_launcher_presets_compose(name: str, tmp_path: Path) -> None:
    cfg = compose_run("train", tmp_path, f"hydra/launcher={name}", hydra=True)
    assert cfg.hydra.launcher._target_.startswith("hydra_plugins.")


# --- slow: whole entry points and real multiruns -------------------------------------------------------


@pytest.mark.slow
def test_curriculum_preset_runs_a_mining_round(tmp_path: Path) -> None:
    cfg = compose_run(
        "curriculum",
        tmp_path,
        "experiment=curriculum",
        "curriculum=combined",
        "curriculum.rounds=1",
        *TINY_MARKET,
        "trainer.limit_train_batches=2",
        "eval.baselines=[]",
        "eval.bf16=false",
        "trainer.precision=32-true",
        "mining.n_negatives=3",
        "mining.margin=null",
        own_data=True,
    )
    results = curriculum(cfg)
    assert "final/ndcg@20" in results and "round1/test/ndcg@20" in results
    assert json.loads((tmp_path / "run" / "lineage.json").read_text())[1]["mining"] is not None


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_SAMPLE.exists(), reason="../shared sample data absent")
def test_real_sample_preset_reads_the_shared_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBMATCH_SHARED", str(SHARED_SAMPLE.parents[1]))
    cfg = compose_run(
        "train",
        tmp_path,
        "experiment=real_sample_stage2",
        "trainer.limit_train_batches=2",
        "trainer.precision=32-true",
        "eval.bf16=false",
    )
    assert Path(cfg.data.preference_train_file).name == "annotated_pair_data-sample.jsonl"
    results = train(cfg)
    assert 0.0 <= results["test/alignment"] <= 1.0 and "delta/ndcg@20" in results


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobmatch.train",
            *args,
            "model=tiny_bert",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=1",
            "data.batch_size=4",
            "eval.k=20",
            "eval.cutoffs=[1,5,10,20]",
            f"paths.output_dir={tmp_path / 'out'}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def stage2_args(ckpt: str) -> list[str]:
    return [
        f"stage.init_ckpt={ckpt}",
        f"data.train_file={CONTRASTIVE}",
        f"data.test_file={CONTRASTIVE}",
        f"data.preference_train_file={PAIRS}",
    ]


def job_dirs(tmp_path: Path) -> list[Path]:
    (sweep,) = (tmp_path / "out" / "multirun" / "train").iterdir()
    return sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())


@pytest.mark.slow
def test_basic_multirun_of_a_sweep_config(tmp_path: Path, stage1_ckpt: str) -> None:
    """A real ``-m +sweep=reference`` multirun: one job per reference mode, each with results, W&B group/tags."""
    run_cli(tmp_path, "-m", "+sweep=reference", "stage=rankpo", "logger=wandb", *stage2_args(stage1_ckpt))
    jobs = job_dirs(tmp_path)
    assert len(jobs) == 3
    names = set()
    for job in jobs:
        assert "test/alignment" in json.loads((job / "results.json").read_text())
        (run,) = offline_runs(job / "wandb")
        assert run.group == f"reference-{job.parent.name}"  # the derived group: <sweep>-<sweep directory>
        names.add(run.name)
    # the name: method, lr, seed and what the sweep varies
    assert names == {f"rankpo-lr1e-05-seed42-reference={mode}" for mode in ("frozen", "online", "none")}


@pytest.mark.slow
@needs_sweep_extra
def test_joblib_launcher_runs_jobs_in_parallel(tmp_path: Path, stage1_ckpt: str) -> None:
    run_cli(tmp_path, "-m", "hydra/launcher=parallel", "+sweep=loss_type", "logger=none", *stage2_args(stage1_ckpt))
    assert [json.loads((j / "results.json").read_text())["test/alignment"] >= 0 for j in job_dirs(tmp_path)] == [
        True,
        True,
    ]


@pytest.mark.slow
@needs_sweep_extra
def test_optuna_search_runs_two_trials(tmp_path: Path, stage1_ckpt: str) -> None:
    run_cli(
        tmp_path, "hparams_search=optuna_rankpo", "hydra.sweeper.n_trials=2", "logger=none", *stage2_args(stage1_ckpt)
    )
    (sweep,) = (tmp_path / "out" / "multirun" / "train").iterdir()
    best = (sweep / "optimization_results.yaml").read_text()
    assert "best_value" in best and "stage.beta" in best
    assert len(job_dirs(tmp_path)) == 2
