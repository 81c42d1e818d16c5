"""RankPO reference: precomputed (frozen) scores vs a second model copy run every step.

Contenders, each in its own process (peak RSS is per process), alternating over repetitions:
- ``frozen``: the project's way (``stage.reference=frozen``): s_ref of every judged pair computed
  once before training with the policy's own encoder (adapter off), cached on disk, looked up per step;
- ``copy``: the reference implementation's way: a second, separately loaded full copy of the stage-1
  model, frozen and in eval mode, kept in memory and run without gradients on every batch.

Stage 1 is the base all-MiniLM-L6-v2 (no stage-1 checkpoint is needed: with ``stage.init_ckpt``
unset, stage 2 starts from the base weights, so the reference is the base model). Preference pairs:
one (positive, negative) pair per synthetic_small training JD, judged by the offline judge.
Step time: median over steps 2..n of a process, then over repetitions; memory: peak RSS.

    .venv/bin/python -m experiments.benchmarks rankpo_reference
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from experiments.benchmarks.common import alternate, bench_result, median, run_isolated, target
from experiments.benchmarks.training import ROOT

MODES = ("frozen", "copy")
PAIRS_DIR = ROOT / "outputs" / "bench" / "rankpo_reference" / "pairs"


def settings_for(quick: bool) -> dict[str, Any]:
    """The benchmark's settings (full or quick)."""
    batch, length = (4, 32) if quick else (16, 256)
    return {
        "model": "tiny_bert" if quick else "minilm",
        "stage1": "the base model (stage 2 from base weights; the reference is the base model)",
        "data": "synthetic_small JDs, one (positive, negative) pair per JD judged by the offline judge",
        "batch": batch,
        "batch_note": f"{batch} pairs = {batch} JDs + {2 * batch} talents per step",
        "lengths": f"query {length}, passage {length} tokens (max)",
        "precision": "bf16-mixed",
        "steps": 3 if quick else 6,
        "repetitions": 1 if quick else 2,
        "timed": "median over steps 2..n per process, median over repetitions",
        "lora": "r=8 (minilm), r=4 (tiny_bert)",
    }


def write_pairs(directory: Path, batch: int, steps: int) -> Path:
    """Preference JSONL (train: ``batch``·``steps`` pairs, val and test: ``batch`` each) from synthetic_small.

    Each pair is a JD's first rule-based positive and first negative, ordered and judged by the
    offline judge. Deterministic: the same files (and so the same reference-cache key) every run.
    """
    from jobmatch.data.prepare import prepare_data
    from jobmatch.data.readers import read_contrastive, write_jsonl
    from jobmatch.data.synthetic.judge import OfflineJudge

    sizes = {"train": batch * steps, "val": batch, "test": batch}
    directory = directory / f"b{batch}-s{steps}"
    if all((directory / f"preferences_{s}.jsonl").exists() for s in sizes):
        return directory
    from experiments.benchmarks.training import compose

    cfg = compose(["data=synthetic_small"], directory / "unused")
    prepare_data(cfg.data)
    records = read_contrastive(str(cfg.data.train_file))
    judge = OfflineJudge(seed=0, noise=0.3)
    rows = []
    for i, rec in enumerate(records[: sum(sizes.values())]):
        a, b = (rec.positives[0], rec.negatives[0]) if i % 2 == 0 else (rec.negatives[0], rec.positives[0])
        verdict = judge.judge(rec.query, a, b)
        rows.append(
            {
                "query": rec.query,
                "passage1": a,
                "passage2": b,
                "preferred": verdict.preferred,
                "confidence_score": verdict.confidence_score,
                "model": judge.name,
            }
        )
    directory.mkdir(parents=True, exist_ok=True)
    start = 0
    for split, size in sizes.items():
        write_jsonl(directory / f"preferences_{split}.jsonl", rows[start : start + size])
        start += size
    return directory


def _config(mode: str, steps: int, quick: bool, pairs: Path, run_dir: str) -> Any:
    """The stage-2 config of a contender (``copy`` trains with no built-in reference: the copy supplies it)."""
    from experiments.benchmarks.training import compose

    s = settings_for(quick)
    length = 32 if quick else 256
    return compose(
        [
            f"model={s['model']}",
            "data=synthetic_small",
            "stage=rankpo",
            f"stage.reference={'frozen' if mode == 'frozen' else 'online'}",
            "stage.evaluate=false",
            "trainer.precision=bf16-mixed",
            f"trainer.max_steps={steps}",
            f"data.batch_size={s['batch']}",
            f"data.max_query_length={length}",
            f"data.max_passage_length={length}",
            *(
                f"data.preference_{split}_file={pairs / f'preferences_{split}.jsonl'}"
                for split in ("train", "val", "test")
            ),
        ],
        run_dir,
    )


def copy_module_factory(cfg: Any) -> Any:
    """A RankPO module whose reference is a second, separately loaded and frozen stage-1 model."""
    from jobmatch.app.builders import container
    from jobmatch.data.collate import PreferenceBatch
    from jobmatch.modules.rankpo import RANKPO_OPTIONS, RankPOModule

    class SeparateReferenceRankPO(RankPOModule):
        """RankPO with the reference implementation's reference: its own full model, run every step."""

        def attach_reference(self) -> None:
            # A second full copy of the stage-1 model: the policy before training (its fresh adapter is
            # an identity, LoRA B = 0) with the adapter folded away; the same weights as stage 1 in every case.
            reference = copy.deepcopy(self.encoder)
            reference.merge_adapter()
            reference.requires_grad_(False)
            reference.eval()
            self.__dict__["reference_model"] = reference  # not a submodule: not trained, not checkpointed

        def reference(self, batch: PreferenceBatch) -> tuple[torch.Tensor, torch.Tensor]:
            """(s_ref(q, w), s_ref(q, l)) [B] each from the copy, without gradients."""
            model = self.__dict__["reference_model"]
            size = len(batch)
            with torch.no_grad():
                query = model(batch.query.input_ids, batch.query.attention_mask).float()  # [B, D]
                ids = torch.cat([batch.chosen.input_ids, batch.rejected.input_ids])  # [2B, Lp]
                mask = torch.cat([batch.chosen.attention_mask, batch.rejected.attention_mask])  # [2B, Lp]
                passages = model(ids, mask).float()  # [2B, D]
            return (query * passages[:size]).sum(-1), (query * passages[size:]).sum(-1)

    options = {key: cfg.stage[key] for key in RANKPO_OPTIONS}
    module = SeparateReferenceRankPO.from_stage1(
        cfg.stage.get("init_ckpt"), container(cfg.model), optim=container(cfg.stage.optim), **options
    )
    module.attach_reference()
    return module


def measure(mode: str, steps: int, quick: bool, pairs: str) -> dict[str, Any]:
    """Child process: ``steps`` RankPO steps with the ``mode`` reference.

    Returns:
        ``step_s`` (per step, the first excluded), ``setup_s``, ``rss_mb`` checkpoints
        (``imports``, ``after_data``, ``after_model``) and, for ``copy``, ``reference_params_mb``.
    """
    from experiments.benchmarks.common import rss_mb
    from experiments.benchmarks.training import train_steps

    imports = rss_mb()
    with tempfile.TemporaryDirectory(prefix="bench-rankpo-") as tmp:
        cfg = _config(mode, steps, quick, Path(pairs), tmp)
        out = train_steps(cfg, copy_module_factory if mode == "copy" else None)
    result: dict[str, Any] = {
        "step_s": out["step_s"][1:],
        "setup_s": out["setup_s"],
        "rss_mb": {"imports": imports, **out["rss_mb"]},
    }
    reference = out["module"].__dict__.get("reference_model")
    if reference is not None:
        result["reference_params_mb"] = sum(p.numel() * p.element_size() for p in reference.parameters()) / 2**20
    return result


def precompute(quick: bool, pairs: str) -> dict[str, Any]:
    """Child process: the one-off reference scores of every pair (cached on disk, as training does)."""
    import jobmatch.app.builders as entry
    from jobmatch.modules.reference import ReferenceCache
    from jobmatch.retrieval.encoder_eval import EncodeSettings

    with tempfile.TemporaryDirectory(prefix="bench-rankpo-") as tmp:
        cfg = _config("frozen", 1, quick, Path(pairs), tmp)
        datamodule = entry.build_datamodule(cfg)
        datamodule.setup("fit")
        module = entry.build_module(cfg)
        records = datamodule.preference_records()
        cache = ReferenceCache(Path(cfg.paths.cache_dir) / "reference")
        settings = EncodeSettings(
            int(cfg.data.max_query_length),
            int(cfg.data.max_passage_length),
            int(cfg.eval.batch_size),
            bf16=True,
            progress=False,
        )
        path = cache.path(module.encoder, records, settings)
        cached = path.exists()
        start = time.perf_counter()
        cache.load_or_compute(module.encoder, records, settings)
        return {"pairs": len(records), "seconds": time.perf_counter() - start, "was_cached": cached}


def run(quick: bool = False) -> dict:
    """Frozen / copy step time (target <= 0.6) and peak RSS (target <= 0.7)."""
    settings = settings_for(quick)
    steps, reps = settings["steps"], settings["repetitions"]
    pairs = write_pairs(PAIRS_DIR, settings["batch"], steps)
    pre = run_isolated("experiments.benchmarks.rankpo_reference", "precompute", {"quick": quick, "pairs": str(pairs)})
    settings["reference_precompute"] = (
        f"{pre['pairs']} pairs, {pre['seconds']:.1f} s once per stage-1 model and "
        f"data ({'cache hit' if pre['was_cached'] else 'computed'}), before step 1"
    )
    children: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}

    def contender(mode: str):
        def call() -> float:
            child = run_isolated(
                "experiments.benchmarks.rankpo_reference",
                "measure",
                {"mode": mode, "steps": steps, "quick": quick, "pairs": str(pairs)},
            )
            children[mode].append(child)
            return median(child["step_s"])

        return call

    times = alternate({m: contender(m) for m in MODES}, repetitions=reps, warmup=0)
    step = {m: median(times[m]) for m in MODES}
    peak = {m: median([c["peak_rss_mb"] for c in children[m]]) for m in MODES}
    rows = []
    for m in MODES:
        rss = {k: median([c["rss_mb"][k] for c in children[m]]) for k in ("imports", "after_data", "after_model")}
        rows.append(
            {
                "reference": m,
                "step_s": round(step[m], 4),
                "step_s_runs": [round(t, 4) for t in times[m]],
                "peak_rss_mb": round(peak[m], 1),
                "rss_after_imports_mb": round(rss["imports"], 1),
                "rss_after_data_mb": round(rss["after_data"], 1),
                "rss_after_model_mb": round(rss["after_model"], 1),
                "training_overhead_mb": round(peak[m] - rss["after_model"], 1),
                "reference_params_mb": round(median([c.get("reference_params_mb", 0.0) for c in children[m]]), 1),
            }
        )
    return bench_result(
        "rankpo_reference",
        "RankPO step: precomputed reference vs a second model copy run every step",
        settings,
        rows,
        [
            target("step time frozen / copy", step["frozen"] / step["copy"], "<=", 0.6),
            target("peak RSS frozen / copy", peak["frozen"] / peak["copy"], "<=", 0.7),
        ],
    )
