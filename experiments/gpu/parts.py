"""The parts of the GPU check (see check.py): each returns a dict of figures, or raises (recorded)."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from experiments.gpu import steps as st
from experiments.gpu.shapes import LLAMA_1B, Shapes, build_tokenizer, model_config

# What one GPU cannot show of the multi-GPU strategies (the strategies part only checks their wiring).
ONE_GPU_CANNOT_SHOW = [
    "cross-device negatives (all_gather with gradients over NCCL) and their loss equality with one device",
    "ZeRO partitioning savings: optimizer states and gradients partitioned over 1 rank are not smaller",
    "retrieval validation synced over NCCL (torchmetrics' all-gather of its states across ranks)",
    "throughput scaling with the number of GPUs, and the rank-0-only reference computation under a barrier",
]


@dataclass
class Context:
    """What the parts share: shapes, the tokenizer, the peak, the last built module, the measured rows."""

    shapes: Shapes
    scratch: Path
    peak_flops: float = 0.0
    rows: dict[str, Any] = field(default_factory=dict)
    _tokenizer: str | None = None
    _module: tuple[str, Any] | None = None

    @property
    def tokenizer(self) -> str:
        if self._tokenizer is None:
            self._tokenizer = build_tokenizer(self.scratch / "tokenizer", int(self.shapes.model["vocab_size"]))
        return self._tokenizer

    @property
    def vocab(self) -> int:
        return int(self.shapes.model["vocab_size"])

    @property
    def eos(self) -> int:
        return self.vocab - 1

    def set_peak(self, peak: dict[str, Any]) -> dict[str, Any]:
        self.peak_flops = float(peak["tflops"]) * 1e12
        return peak

    def model(self, lora: bool, gc: bool = False) -> dict[str, Any]:
        return model_config(self.shapes, self.tokenizer, lora=lora, gc=gc)

    def stage1(self, lora: bool) -> Any:
        """The stage-1 module of this tuning (built once; the previous one is dropped first: one 1B at a time)."""
        key = "lora" if lora else "full"
        if self._module is None or self._module[0] != key:
            self._module = None
            st.release()
            self._module = (key, st.build_module("stage1", self.model(lora), self.shapes))
        return self._module[1]

    def drop(self) -> None:
        self._module = None
        st.release()


def set_checkpointing(module: Any, on: bool) -> None:
    from jobmatch.model.encoder import disable_activation_checkpointing, enable_activation_checkpointing

    backbone = module.encoder.backbone
    (enable_activation_checkpointing if on else disable_activation_checkpointing)(backbone)
    module.encoder.cfg["gradient_checkpointing"] = on


def steps(ctx: Context, length: str, budget: Any) -> dict[str, Any]:
    """Stage 1 and stage 2 steps, LoRA and full fine-tuning, checkpointing off and on, at ``length``."""
    from jobmatch.modules.rankpo import RankPOModule

    shapes, lengths = ctx.shapes, ctx.shapes.lengths[length]
    out: dict[str, Any] = {"jd_tokens": lengths[0], "talent_tokens": lengths[1],
                           "stage1_batch": f"{shapes.stage1_batch[length]} JDs x (1 + {shapes.negatives}) talents",
                           "stage2_batch": f"{shapes.stage2_batch[length]} pairs (1 JD + 2 talents each)"}
    b1 = st.stage1_batches(shapes, lengths, shapes.stage1_batch[length], 2, ctx.vocab, ctx.eos, pad_id=ctx.eos)
    b2 = st.stage2_batches(shapes, lengths, shapes.stage2_batch[length], 2, ctx.vocab, ctx.eos, pad_id=ctx.eos)
    for lora in (True, False):
        tuning = "lora" if lora else "full"
        for gc in (False, True):
            for stage, batches in (("stage1", b1), ("stage2", b2)):
                key = f"{stage}/{tuning}/gc_{'on' if gc else 'off'}"
                if not shapes.tiny and not budget.allows(20):
                    out[key] = {"status": "skipped", "reason": "time budget"}
                    continue
                try:
                    module = ctx.stage1(lora)
                    if stage == "stage2":
                        module = RankPOModule(model=module.encoder.cfg, optim=module.hparams["optim"],
                                              reference="frozen", encoder=module.encoder)
                        module.set_reference_scores(torch.rand(4096, 2))
                    set_checkpointing(module, gc)
                    out[key] = {"status": "ok", **st.step_row(module, batches, shapes, lora, ctx.peak_flops)}
                except Exception as error:
                    if not st.is_oom(error):
                        raise
                    out[key] = {"status": "oom", "error": str(error).splitlines()[0][:200]}
                    ctx.drop()
                ctx.rows[f"{length}/{key}"] = out[key]
    ctx.drop()
    return out


def peer(ctx: Context, length: str, budget: Any) -> dict[str, Any]:
    """sentence-transformers' trainer on the same stage-1 shapes (LoRA), and jobmatch's speed over it."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from experiments.gpu.peer import st_step

    shapes, lengths = ctx.shapes, ctx.shapes.lengths[length]
    spec = copy.deepcopy(shapes.model)
    config = AutoConfig.for_model(spec.pop("model_type"), **spec)
    config._attn_implementation = "sdpa"
    with torch.device(shapes.device):
        backbone = AutoModel.from_config(config, dtype=torch.float32 if shapes.tiny else torch.bfloat16)
    tokenizer = AutoTokenizer.from_pretrained(ctx.tokenizer)
    out: dict[str, Any] = {}
    for gc in (False, True) if length == "paper" else (False,):
        key = f"gc_{'on' if gc else 'off'}"
        if not shapes.tiny and not budget.allows(20):
            out[key] = {"status": "skipped", "reason": "time budget"}
            continue
        st.release()
        try:
            row = st_step(backbone, tokenizer, shapes, lengths, shapes.stage1_batch[length], gc, ctx.vocab)
        except Exception as error:  # this setting's error; the other setting still runs
            status = "oom" if st.is_oom(error) else "error"
            out[key] = {"status": status, "error": f"{type(error).__name__}: {error}"[:300]}
            continue
        ours = ctx.rows.get(f"{length}/stage1/lora/{key}", {})
        row["jobmatch_over_peer"] = (round(ours["tokens_per_s"] / row["tokens_per_s"], 3)
                                     if ours.get("status") == "ok" else None)
        out[key] = {"status": "ok", **row}
    del backbone
    st.release()
    return out


def preset(ctx: Context) -> dict[str, Any]:
    """The GPU preset (conf/experiment/llama3_2_1b_gpu.yaml) composed as a run composes it, its stage-1 step
    at its own batch size, lengths and memory settings, with this check's random 1B in place of the hub weights."""
    from hydra import compose, initialize_config_dir

    import jobmatch.app  # noqa: F401  (registers the config resolvers)
    from jobmatch.app.builders import build_module

    shapes = ctx.shapes
    conf = Path(__file__).resolve().parents[2] / "conf"
    overrides = ["experiment=llama3_2_1b_gpu", "model.name_or_path=null", f"model.tokenizer={ctx.tokenizer}",
                 "logger=none"]
    if shapes.tiny:
        overrides += ["trainer=cpu", "data.batch_size=2", "stage.chunk_size=2",
                      f"data.max_query_length={shapes.lengths['paper'][0]}",
                      f"data.max_passage_length={shapes.lengths['paper'][1]}", "model.dtype=float32",
                      "model.add_markup_tokens=false"]
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    from omegaconf import OmegaConf

    cfg.model.config = OmegaConf.create(copy.deepcopy(shapes.model if shapes.tiny else LLAMA_1B))
    settings = {"precision": str(cfg.trainer.precision), "batch_size": int(cfg.data.batch_size),
                "n_negatives": int(cfg.data.n_negatives), "chunk_size": cfg.stage.chunk_size,
                "chunk_recompute": bool(cfg.stage.chunk_recompute),
                "gradient_checkpointing": bool(cfg.model.gradient_checkpointing),
                "lengths": [int(cfg.data.max_query_length), int(cfg.data.max_passage_length)]}
    ctx.drop()
    with torch.device(shapes.device):
        module = build_module(cfg)
    lengths = (settings["lengths"][0], settings["lengths"][1])
    run_shapes = dataclasses.replace(shapes, negatives=settings["n_negatives"])
    batches = st.stage1_batches(run_shapes, lengths, settings["batch_size"], 1, ctx.vocab, ctx.eos, pad_id=ctx.eos)
    try:
        row = {"status": "ok", **st.step_row(module, batches, run_shapes, bool(cfg.model.lora.enabled),
                                             ctx.peak_flops)}
    except Exception as error:
        if not st.is_oom(error):
            raise
        row = {"status": "oom", "error": str(error).splitlines()[0][:200]}
    del module
    st.release()
    return {"settings": settings, "step": row}


def max_batch(ctx: Context, budget: Any) -> dict[str, Any]:
    """The largest stage-1 batch (JDs) that fits at the paper's lengths: LoRA and full, checkpointing on,
    without chunking, and with the preset's chunk_size + recompute (GradCache memory profile)."""
    shapes, lengths = ctx.shapes, ctx.shapes.lengths["paper"]
    out: dict[str, Any] = {}
    for lora, chunk in ((True, None), (False, None), (True, 8 if not shapes.tiny else 2)):
        key = f"{'lora' if lora else 'full'}/gc_on/chunk_{chunk or 'none'}"
        if not shapes.tiny and not budget.allows(30):
            out[key] = {"status": "skipped", "reason": "time budget"}
            continue
        module = ctx.stage1(lora)
        set_checkpointing(module, True)
        module.chunk_size = chunk

        def build(size: int) -> list[Any]:
            return st.stage1_batches(shapes, lengths, size, 1, ctx.vocab, ctx.eos, pad_id=ctx.eos)

        out[key] = {"status": "ok", **st.largest_batch(build, module, shapes)}
        module.chunk_size = None
        ctx.drop()
    return out


def padding_part(ctx: Context) -> dict[str, Any]:
    from experiments.gpu.encoding import padding

    ctx.drop()
    return padding(ctx.shapes, ctx.model(lora=True, gc=True), ctx.vocab, ctx.eos)


def _eval_encoder(ctx: Context) -> Any:
    module = ctx.stage1(lora=True)
    return module.encoder


def reference_part(ctx: Context) -> dict[str, Any]:
    from experiments.gpu.encoding import reference_scores

    return reference_scores(_eval_encoder(ctx), ctx.shapes, ctx.vocab)


def corpus_part(ctx: Context) -> dict[str, Any]:
    from experiments.gpu.encoding import corpus_encoding

    out = corpus_encoding(_eval_encoder(ctx), ctx.shapes, ctx.vocab)
    ctx.drop()
    return out


def strategies(ctx: Context) -> dict[str, Any]:
    """DDP and DeepSpeed ZeRO-1/2 on one device: a few steps, a checkpoint saved and read back by jobmatch."""
    from jobmatch.model.checkpoint import read_checkpoint
    from jobmatch.model.loading import load_encoder

    shapes, lengths = ctx.shapes, ctx.shapes.lengths["512"]
    out: dict[str, Any] = {"one_gpu_cannot_show": ONE_GPU_CANNOT_SHOW}
    batches = st.stage1_batches(shapes, lengths, 2, 2, ctx.vocab, ctx.eos, pad_id=ctx.eos)
    for name in ("ddp", "deepspeed_stage_1", "deepspeed_stage_2"):
        ctx.drop()
        try:
            module = st.build_module("stage1", ctx.model(lora=True), shapes)
            trainer = st.fit(module, batches, shapes, 2, strategy=name, return_trainer=True)
            path = ctx.scratch / f"{name}.ckpt"
            trainer.save_checkpoint(str(path))
            saved = read_checkpoint(path)
            reloaded = load_encoder(path)
            same = saved["state_dict"].keys() == module.state_dict().keys()
            out[name] = {"status": "ok", "checkpoint_is_folder": path.is_dir(), "checkpoint_keys_match": same,
                         "reloaded_params": sum(p.numel() for p in reloaded.parameters())}
            del trainer, reloaded
            # stage 2 under the same strategy: its frozen reference scores must stay fp32 (DeepSpeed casts buffers)
            from jobmatch.modules.rankpo import RankPOModule

            stage2 = RankPOModule(model=module.encoder.cfg, optim=module.hparams["optim"], reference="frozen",
                                  encoder=module.encoder)
            stage2.set_reference_scores(torch.rand(64, 2))
            pairs = st.stage2_batches(shapes, lengths, 2, 1, ctx.vocab, ctx.eos, pad_id=ctx.eos)
            st.fit(stage2, pairs, shapes, 1, strategy=name)
            out[name]["stage2_reference_dtype"] = str(stage2.reference_scores.dtype)
            del module, stage2
        except Exception as error:
            out[name] = {"status": "error", "error": f"{type(error).__name__}: {error}"[:300]}
    ctx.drop()
    return out
