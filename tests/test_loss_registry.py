"""The stage-2 loss registry: a new loss variant is its own module plus a stage preset, no package file.

The variant is the worked example of ``docs/extending.md`` ("Add a stage-2 loss variant"): its Python block
is written as a module to ``tmp_path`` and put on ``sys.path``, its YAML block (naming that module) as a
preset in a config folder added with ``hydra.searchpath``. The application finds the module through
``stage.loss_module``, and the variant trains two steps of ``model=tiny_bert`` on the preference fixture.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import jobmatch.losses.registry as registry
from jobmatch.app.train_task import train
from jobmatch.app.validation import validate_config
from jobmatch.errors import ConfigError
from jobmatch.losses import loss_types, loss_variant, register_loss, validate_preference_options
from jobmatch.losses import rankpo as rankpo_mod
from jobmatch.model.checkpoint import read_checkpoint
from tests.helpers import FAST, FIXTURES, ROOT, compose_config

PAIRS = FIXTURES / "preferences_tiny.jsonl"
GUIDE = ROOT / "docs" / "extending.md"


def guide_blocks() -> dict[str, str]:
    """The first ``python`` and ``yaml`` code blocks of the guide's loss-variant section, dedented."""
    text = GUIDE.read_text()
    section = text[text.index("## Add a stage-2 loss variant"):text.index("## Add a stage\n")]
    blocks = {}
    for lang in ("python", "yaml"):
        block = re.search(rf"^( *)```{lang}\n(.*?)^\1```", section, re.S | re.M)
        assert block, f"{GUIDE}: no {lang} block in 'Add a stage-2 loss variant'"
        indent = len(block.group(1))
        blocks[lang] = "".join(line[indent:] for line in block.group(2).splitlines(keepends=True))
    return blocks


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry as the package left it, restored after the test (its variants stay registered)."""
    monkeypatch.setattr(registry, "_VARIANTS", dict(registry._VARIANTS))


@pytest.fixture
def new_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> Iterator[dict[str, str]]:
    """The guide's loss module on ``sys.path`` and its preset in a config folder, both in ``tmp_path``."""
    blocks = guide_blocks()
    name = re.search(r"^loss_type: (\w+)", blocks["yaml"], re.M).group(1)  # type: ignore[union-attr]
    stage = re.search(r"^name: (\w+)", blocks["yaml"], re.M).group(1)  # type: ignore[union-attr]
    module = f"lossreg_{tmp_path.name.replace('-', '_')}"
    code = tmp_path / "code"
    code.mkdir()
    (code / f"{module}.py").write_text(blocks["python"])
    folder = tmp_path / "conf" / "stage"
    folder.mkdir(parents=True)
    preset = re.sub(r"^loss_module: .*$", f"loss_module: {module}", blocks["yaml"], flags=re.M)
    (folder / f"{stage}.yaml").write_text(preset)
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.delitem(sys.modules, module, raising=False)
    yield {"name": name, "stage": stage, "module": module,
           "searchpath": f"hydra.searchpath=[file://{tmp_path / 'conf'}]"}
    sys.modules.pop(module, None)


def stage2_overrides(tmp_path: Path, variant: dict[str, str], *extra: str) -> list[str]:
    return [*FAST, variant["searchpath"], f"stage={variant['stage']}", "stage.init_ckpt=null",
            f"data.preference_train_file={PAIRS}", "trainer.max_steps=2", "trainer.limit_train_batches=2",
            "trainer.limit_val_batches=1", "stage.evaluate=false", "stage.optim.lr=1e-3", *extra]


@pytest.mark.usefixtures("one_thread")
def test_a_variant_in_its_own_module_trains_from_its_preset(tmp_path: Path, new_variant: dict[str, str]) -> None:
    name = new_variant["name"]
    assert name not in loss_types()
    cfg = compose_config(stage2_overrides(tmp_path, new_variant, "stage.ipo_margin=0.25"), run_dir=tmp_path / "run")
    validate_config(cfg)  # imports stage.loss_module, which registers the variant
    assert name in loss_types() and name in rankpo_mod.LOSS_TYPES
    variant = loss_variant(name)
    value = variant.loss(torch.tensor([0.5]), torch.tensor([0.3]), beta=2.0, temperature=0.1)
    assert value.tolist() == pytest.approx([(0.2 / 0.1 - 0.5 / 2.0) ** 2])  # (Δ/τ − m/β)², m = 0.5, by hand
    calls: list[tuple[int, object]] = []

    def counted(*args: torch.Tensor, **kwargs: object) -> torch.Tensor:
        calls.append((len(args[0]), kwargs.get("ipo_margin")))
        return variant.loss(*args, **kwargs)

    registry._VARIANTS[name] = dataclasses.replace(variant, loss=counted)
    results = train(cfg)
    assert len(calls) >= 2 and all(n > 0 for n, _ in calls)  # the training steps (and validation) used the loss
    assert {margin for _, margin in calls} == {0.25}  # the variant's own option, from the command line
    hparams = read_checkpoint(results["checkpoint/best"])["hyper_parameters"]
    assert hparams["loss_type"] == new_variant["name"] and hparams["loss_module"] == new_variant["module"]
    assert hparams["loss_options"] == {"ipo_margin": 0.25}


@pytest.mark.parametrize(("override", "message"), [
    ("stage.ipo_margin=-1", r"^stage\.ipo_margin=-1: out of range: expected a number > 0; "
                            r"pass e\.g\. stage\.ipo_margin=0\.5"),
    ("+stage.ipo_margn=1", r"^stage\.ipo_margn=1: unknown option; did you mean stage\.ipo_margin\?"),
    ("stage.label_smoothing=0.1", r"stage\.label_smoothing=0\.1: applies to the sigmoid loss only"),
    ("stage.loss_module=no_such_loss_module", r"stage\.loss_module=no_such_loss_module: cannot import it"),
    ("stage.loss_module=null", r"stage\.loss_type=ipo: expected one of sigmoid, hinge, listwise"),
])
def test_the_variants_options_and_module_are_checked(tmp_path: Path, new_variant: dict[str, str], override: str,
                                              message: str) -> None:
    cfg = compose_config(stage2_overrides(tmp_path, new_variant, override), run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg)


@pytest.mark.usefixtures("fresh_registry")
def test_a_variants_needs_are_checked_with_the_config(tmp_path: Path) -> None:
    register_loss("marginless", rankpo_mod.rankpo_loss, kind="pairwise", rules_out=("gamma_beta_ratio",))
    cfg = compose_config([*FAST, "stage=rankpo", "stage.loss_type=marginless", "stage.gamma_beta_ratio=0.5"],
                         run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match=r"stage\.gamma_beta_ratio=0\.5: applies to the sigmoid, hinge and "
                                          r"listwise losses only, but stage\.loss_type=marginless; set "
                                          r"stage\.gamma_beta_ratio=0 or stage\.loss_type=sigmoid"):
        validate_config(cfg)


def test_the_built_in_variants_are_registered() -> None:
    assert loss_types()[:3] == ("sigmoid", "hinge", "listwise")
    assert [loss_variant(name).kind for name in ("sigmoid", "hinge", "listwise")] == ["pairwise", "pairwise",
                                                                                     "listwise"]
    chosen, rejected = torch.tensor([0.5, 0.1]), torch.tensor([0.3, 0.2])
    for name in ("sigmoid", "hinge"):
        expected = rankpo_mod.rankpo_loss(chosen, rejected, beta=2.0, temperature=0.1, loss_type=name)
        assert torch.equal(loss_variant(name).loss(chosen, rejected, beta=2.0, temperature=0.1), expected)


@pytest.mark.usefixtures("fresh_registry")
def test_register_loss_declares_a_variant_once() -> None:
    def flat(chosen, rejected, ref_chosen=None, ref_rejected=None, **_):
        return (chosen - rejected) * 0

    register_loss("flat", flat, kind="listwise", needs=("reference",))
    variant = loss_variant("flat")
    assert {"label_smoothing", "soft_labels"} <= set(variant.rules_out)  # listwise takes no per-pair ε
    base = {"loss_type": "flat", "beta": 2.0, "temperature": 0.1}
    with pytest.raises(ValueError, match=r"^reference=none: loss_type=flat needs it"):
        validate_preference_options({**base, "reference": "none"})
    validate_preference_options({**base, "reference": "frozen"})
    register_loss("flat", flat, kind="listwise", needs=("reference",))  # the same function again: fine
    with pytest.raises(ValueError, match="already registered"):
        register_loss("flat", lambda c, r, *a, **k: c, kind="pairwise")
    with pytest.raises(ValueError, match="kind='ranked'"):
        register_loss("other", flat, kind="ranked")
    with pytest.raises(ValueError, match="not among"):
        register_loss("other", flat, kind="pairwise", rules_out=("beta",))
    with pytest.raises(ValueError, match=r"^loss_type=nope: unknown loss type"):
        loss_variant("nope")
