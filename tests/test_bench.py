"""The benchmark harness: timing helpers, targets, FLOP counting, the runner and its report."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import types
from pathlib import Path

import pytest
import torch

from experiments.benchmarks import __main__ as runner
from experiments.benchmarks.common import (
    BenchSkipped,
    Stepper,
    alternate,
    bench_result,
    dense_params,
    mfu,
    model_flops_per_token,
    sequence_flops,
    target,
)
from experiments.benchmarks.report import to_markdown

# sentence-transformers can arrive without the bench extra (a dependency of the MiniLM weights package);
# the peer trainer also needs datasets and accelerate.
HAS_ST = all(importlib.util.find_spec(m) is not None for m in ("sentence_transformers", "datasets", "accelerate"))


def test_target_directions() -> None:
    assert target("speed-up", 1.31, ">=", 1.3)["met"] is True
    assert target("speed-up", 1.29, ">=", 1.3)["met"] is False
    row = target("memory", 0.5, "<=", 0.6, "note")
    assert row == {"target": "memory", "value": 0.5, "goal": "<= 0.6", "met": True, "note": "note"}
    with pytest.raises(ValueError, match="op"):
        target("x", 1.0, ">", 1.0)


def test_alternate_order_warmup_and_own_seconds() -> None:
    calls: list[str] = []

    def make(name: str, seconds: float | None):
        def fn() -> float | None:
            calls.append(name)
            return seconds

        return fn

    samples = alternate({"a": make("a", 2.0), "b": make("b", None)}, repetitions=3, warmup=1)
    assert calls == ["a", "b"] * 4  # A B A B ..., warm-up round included
    assert samples["a"] == [2.0, 2.0, 2.0]  # a contender's own measured seconds win
    assert len(samples["b"]) == 3 and all(0 <= s < 1 for s in samples["b"])  # else the wall time


def test_model_flops_conventions() -> None:
    # P = 1000 dense weights, no attention: forward 2P, full training 6P, frozen base (LoRA) 4P per token.
    assert model_flops_per_token(1000) == 2000
    assert model_flops_per_token(1000, training="full") == 6000
    assert model_flops_per_token(1000, training="frozen") == 4000
    # attention: 4 · layers · context · hidden forward = 4·2·10·8 = 640; training: x3.
    assert model_flops_per_token(0, n_layers=2, hidden=8, context=10) == 640
    assert model_flops_per_token(0, n_layers=2, hidden=8, context=10, training="frozen") == 1920
    # two sequences of 3 and 5 tokens, P = 10, no layers: (3 + 5) · 2 · 10.
    assert sequence_flops([3, 5], 10, 0, 0, training="none") == 160
    assert mfu(50e9, 200e9) == 0.25
    with pytest.raises(ValueError):
        model_flops_per_token(1, training="half")


def test_dense_params_skips_lora_and_embeddings() -> None:
    model = torch.nn.Sequential(torch.nn.Embedding(100, 4), torch.nn.Linear(4, 3))
    model.add_module("lora_A", torch.nn.Linear(4, 2))
    assert dense_params(model) == 12


def test_stepper_takes_turns_and_stops() -> None:
    events: list[str] = []

    def loop(stepper: Stepper) -> None:
        for i in range(100):
            events.append(f"step{i}")
            time.sleep(0.01)
            if stepper.step_done():
                events.append("stopped")
                return

    stepper = Stepper("loop", loop, timeout=10)
    seconds = [stepper.step() for _ in range(3)]
    assert events == ["step0", "step1", "step2"]  # one step per hand-over, nothing in between
    assert all(s >= 0.01 for s in seconds)
    stepper.close()
    assert events[-1] == "stopped" and stepper.finished


def test_stepper_reports_a_failed_loop() -> None:
    def loop(stepper: Stepper) -> None:
        raise ValueError("boom")

    stepper = Stepper("bad", loop, timeout=10)
    with pytest.raises(RuntimeError, match="boom"):
        stepper.step()


@pytest.fixture
def fake_modules(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A registry of fake benchmarks: one fine, one failing, one skipped, one missing."""

    def ok_run(quick: bool = False) -> dict:
        return bench_result(
            "ok",
            "A fine one",
            {"model": "m", "repetitions": 1},
            [{"x": 1.5, "y": "a"}],
            [target("ratio", 1.4, ">=", 1.3)],
        )

    def bad_run(quick: bool = False) -> dict:
        raise RuntimeError("it broke")

    def skip_run(quick: bool = False) -> dict:
        raise BenchSkipped("peer not installed: pip install -e .[bench]")

    for name, fn in (("fake_ok", ok_run), ("fake_bad", bad_run), ("fake_skip", skip_run)):
        module = types.ModuleType(f"tests.{name}")
        module.run = fn  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, f"tests.{name}", module)
    registry = {
        "ok": "tests.fake_ok",
        "bad": "tests.fake_bad",
        "skip": "tests.fake_skip",
        "missing": "experiments.benchmarks.does_not_exist",
    }
    monkeypatch.setattr(runner, "REGISTRY", registry)
    return registry


def test_runner_lists_failed_skipped_and_missing(
    fake_modules: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert runner.main(["--in-process", "--device", "cpu", "--out", str(tmp_path)]) == 0
    document = json.loads((tmp_path / "results.json").read_text())
    status = {r["name"]: r["status"] for r in document["results"]}
    assert status == {"ok": "ok", "bad": "failed", "skip": "skipped", "missing": "failed"}
    errors = {r["name"]: r.get("error", "") for r in document["results"]}
    assert "it broke" in errors["bad"] and "pip install" in errors["skip"]
    assert "ModuleNotFoundError" in errors["missing"]
    assert {"cpu", "cores", "torch"} <= set(document["machine"])
    markdown = (tmp_path / "results.md").read_text()
    assert markdown in capsys.readouterr().out  # printed too
    assert "## Summary of targets" in markdown
    assert "| ok | ratio | 1.4 | >= 1.3 | met |" in markdown
    assert "| bad | – | – | – | FAILED |" in markdown and "skipped" in markdown
    assert "**model**: m" in markdown
    assert runner.main(["--in-process", "--device", "cpu", "--strict", "--out", str(tmp_path)]) == 1


def test_runner_rejects_unknown_names(fake_modules: dict[str, str]) -> None:
    with pytest.raises(SystemExit):
        runner.main(["--only", "nope"])


def test_runner_isolated_quick_matmul(tmp_path: Path) -> None:
    """The default mode: each benchmark in a fresh process; matmul's peaks come back for the report."""
    assert runner.main(["--only", "matmul", "--quick", "--device", "cpu", "--out", str(tmp_path)]) == 0
    document = json.loads((tmp_path / "results.json").read_text())
    (result,) = document["results"]
    assert result["status"] == "ok", result.get("error")
    assert [r["precision"] for r in result["rows"]] == ["fp32", "bf16"]
    assert all(r["gflops"] > 0 for r in result["rows"])
    assert set(result["peaks"]) == {"cpu/fp32", "cpu/bf16"}
    assert "## matmul:" in (tmp_path / "results.md").read_text()


def test_peer_benchmarks_skip_without_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    from experiments.benchmarks import st_eval, st_train

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real_find_spec(name, *a),
    )
    for module in (st_train, st_eval):
        with pytest.raises(BenchSkipped, match=r"pip install -e \.\[bench\]"):
            module.run(quick=True)


def test_markdown_of_a_document() -> None:
    result = bench_result(
        "b",
        "Title",
        {"batch": 8, "precision": ["fp32", "bf16"]},
        [{"framework": "a", "speed": 1.23456}],
        [target("t", 0.9, ">=", 1.2)],
    )
    result["status"] = "ok"
    markdown = to_markdown({"machine": {"cpu": "x"}, "results": [result]})
    assert "## b: Title" in markdown and "**precision**: fp32, bf16" in markdown
    assert "| a | 1.235 |" in markdown and "not met" in markdown


@pytest.mark.slow
@pytest.mark.skipif(not HAS_ST, reason="the bench extra is not installed (pip install -e .[bench])")
@pytest.mark.parametrize("name", ["st_eval", "st_train"])
def test_peer_benchmark_quick(name: str, tmp_path: Path) -> None:
    """The peer comparisons end to end on a tiny random BERT (about a minute each)."""
    assert runner.main(["--only", name, "--quick", "--device", "cpu", "--out", str(tmp_path)]) == 0
    (result,) = json.loads((tmp_path / "results.json").read_text())["results"]
    assert result["status"] == "ok", result.get("error")
    frameworks = {r["framework"] for r in result["rows"]}
    assert all(r["mfu"] > 0 for r in result["rows"])
    assert any("speed-up" in t["target"] for t in result["targets"])
    if name == "st_train":  # the peer at its defaults and at its best documented setting (torch_compile)
        assert frameworks == {"jobmatch", "sentence-transformers", "sentence-transformers compiled"}
        (compiled,) = [r for r in result["rows"] if r["framework"] == "sentence-transformers compiled"]
        assert compiled["compile_s"] > 0  # it compiled in its warm-up steps
        assert any("at its best" in t["target"] for t in result["targets"])
    else:
        assert frameworks == {"jobmatch", "sentence-transformers"}


def test_st_train_summary_picks_the_peer_at_its_best(monkeypatch: pytest.MonkeyPatch) -> None:
    """The peer's best is its faster steady state; compile seconds are the compiled warm-up over the eager one."""
    from experiments.benchmarks import st_train

    monkeypatch.setattr(st_train, "peak_gflops", lambda device, precision: 100.0)
    ours, peer, compiled = st_train.OURS, st_train.PEER, st_train.PEER_COMPILED
    samples = {f"{ours} fp32": [1.0, 1.0, 1.0], f"{peer} fp32": [1.2, 1.2, 1.2], f"{compiled} fp32": [0.8, 0.8, 0.8]}
    facts = {
        "flops_per_group": 1e9,
        "trainable": {ours: 10, peer: 12, compiled: 12},
        "warmup_s": {f"{ours} fp32": 3.0, f"{peer} fp32": 3.5, f"{compiled} fp32": 53.5},
    }
    result = st_train.summarize(samples, facts, quick=True, device="cpu", repetitions=3)
    rows = {r["framework"]: r for r in result["rows"]}
    assert rows[ours]["speedup_vs_peer"] == pytest.approx(1.2)
    assert rows[ours]["speedup_vs_peer_best"] == pytest.approx(0.8)  # the compiled peer is faster: it is the best
    assert rows[compiled]["compile_s"] == pytest.approx(50.0) and rows[peer]["compile_s"] is None
    best = next(t for t in result["targets"] if "at its best" in t["target"])
    assert "torch_compile=True" in best["target"] and best["value"] == pytest.approx(0.8) and not best["met"]

    slow_compiled = {**samples, f"{compiled} fp32": [1.5, 1.5, 1.5]}  # compiling does not pay: the defaults are best
    result = st_train.summarize(slow_compiled, facts, quick=True, device="cpu", repetitions=3)
    best = next(t for t in result["targets"] if "at its best" in t["target"])
    assert "its defaults" in best["target"] and best["value"] == pytest.approx(1.2)
