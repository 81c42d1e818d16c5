"""Where the time goes: torch.profiler (CPU) on one stage-1 training step and one evaluation encode batch.

    .venv/bin/python experiments/benchmarks/profile_step.py                 # profiles -> profile.md
    .venv/bin/python experiments/benchmarks/profile_step.py --dropout-ab 3  # + the attention-dropout A/B

(a) One stage-1 training step of our path, with ``st_train``'s settings: ``model=minilm`` + LoRA
(r=8 on query/key/value/dense), bf16 autocast (Lightning ``bf16-mixed``), 8 JDs x (1 + 3)
passages, 128 tokens, ``data=synthetic_small``, the real ``jobmatch.app`` builders (through
``experiments.benchmarks.training.train_steps``). The profiler runs from the end of the first (warm-up)
step to the end of the second: the second step's data loading and collation, forward, backward,
optimizer step and Lightning's bookkeeping.

(b) One evaluation encode batch: ``jobmatch.retrieval.encode.encode_texts`` of 64 talent texts,
batch 64, 128 tokens, bf16 autocast, inference mode, MiniLM without adapter (as ``st_eval``),
after one warm-up call: tokenisation, length sort, padding, forward, pooling.

Each profile lists the top ops by self CPU time (share of the profiled wall time) and a grouping
of every op's self time: dense matmuls, attention, softmax/dropout, layernorm/gelu, other ops,
and the time outside any op (Python, Lightning, data, tokenizer). Self times are the calling
thread's: intra-op (OpenMP) workers add no events, so shares of wall time add up to 100 %.

``--dropout-ab N``: our training step (bf16, the same batch) with MiniLM's attention-probs dropout
at the checkpoint's 0.1 vs 0.0, each trial in its own process (``common.run_isolated``), the two
alternating, N trials each: median step seconds (after one warm-up step) and peak RSS. With
dropout > 0, PyTorch's CPU SDPA cannot use its fused (flash) kernel and runs the math path, which
stores the [B, heads, L, L] probabilities, their dropout mask and their gradients per layer.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.autograd.profiler_util import FunctionEvent  # noqa: E402
from torch.profiler import ProfilerActivity, profile, record_function  # noqa: E402

OUT = Path(__file__).resolve().parent / "profile.md"
NOTES = "<!-- notes: kept when the script rewrites the file -->"  # hand-written reading below it
MODULE = "experiments.benchmarks.profile_step"  # importable from ROOT (namespace packages)
TOP = 15
EVAL_TEXTS = 64
STEPS_AB = 3  # timed steps per A/B trial, after one warm-up step
PAIRS_AB = 4  # in-process alternation: timed (0.1, 0.0) step pairs after one warm-up step of each

# ---- grouping of ops by their self time --------------------------------------------------------

GROUPS = (
    "dense matmul (Linear + LoRA: addmm/mm)",
    "attention (SDPA kernel; math path: its bmm, scale, mask)",
    "softmax + attention-probs dropout (math path)",
    "hidden / LoRA dropout (mask draw, scale, mask multiply, backward)",
    "layernorm + gelu",
    "autocast dtype casts (aten::to copies, forward and backward)",
    "other aten ops (layout copies, adds, embedding, pooling, loss, optimizer)",
    "framework inside ops (autograd engine, scopes: Python between ops)",
    "outside any op (Python, Lightning loop, data, tokenizer)",
)
PHASES = ("forward + loss", "backward", "optimizer (AdamW on LoRA weights)", "rest (data, Lightning hooks)")
FORWARD_SCOPE, BACKWARD_SCOPE = "profile::forward+loss", "profile::backward"
DENSE = {"aten::addmm", "aten::mm", "aten::linear", "aten::matmul", "aten::_addmm_activation"}
SDPA = ("scaled_dot_product", "flash_attention")
SOFTMAX = {"aten::_softmax", "aten::softmax", "aten::_softmax_backward_data"}
DROPOUT = {"aten::dropout", "aten::native_dropout", "aten::native_dropout_backward", "aten::bernoulli_"}
DROPOUT_BACKWARD = {"MulBackward0", "NativeDropoutBackward0"}  # dropout's mask multiply (and pooling's, small)
CASTS = {"aten::to", "aten::_to_copy"}
NORM_ACT = {
    "aten::native_layer_norm",
    "aten::layer_norm",
    "aten::native_layer_norm_backward",
    "aten::gelu",
    "aten::gelu_backward",
}


def _ancestors(event: FunctionEvent) -> list[str]:
    names, parent = [], event.cpu_parent
    while parent is not None:
        names.append(parent.name)
        parent = parent.cpu_parent
    return names


def _is_4d(event: FunctionEvent) -> bool:
    """An op on [B, heads, L, L]-like tensors (attention), from its recorded input shapes."""
    return any(isinstance(s, list | tuple) and len(s) == 4 for s in (event.input_shapes or []))


def classify(event: FunctionEvent) -> str:
    """The group of one op event (by its own name, its input shapes and its ancestors)."""
    name, above = event.name, _ancestors(event)
    nearest = above[0] if above else ""
    under_sdpa = any(tag in a for a in above for tag in SDPA)
    if name in SOFTMAX:
        return GROUPS[2]
    if name in DROPOUT or (name in {"aten::mul", "aten::div_"} and (nearest in DROPOUT or nearest in DROPOUT_BACKWARD)):
        return GROUPS[2] if (under_sdpa or _is_4d(event)) else GROUPS[3]
    if name in CASTS or (name == "aten::copy_" and nearest in CASTS):
        return GROUPS[5]
    if any(tag in name for tag in SDPA) or name in {"aten::bmm", "aten::baddbmm"} or under_sdpa:
        return GROUPS[1]
    if name in DENSE:
        return GROUPS[0]
    if name in NORM_ACT:
        return GROUPS[4]
    if not name.startswith("aten::"):  # autograd engine/nodes, Optimizer.step and our scopes
        return GROUPS[7]
    return GROUPS[6]


def phase(event: FunctionEvent) -> str:
    """The training phase of an event: under our forward or backward scope, in AdamW's step, or neither."""
    names = [event.name, *_ancestors(event)]
    if FORWARD_SCOPE in names:
        return PHASES[0]
    if BACKWARD_SCOPE in names:
        return PHASES[1]
    if any(n.startswith("Optimizer.") for n in names):
        return PHASES[2]
    return PHASES[3]


def summarize(prof: profile, wall_s: float, phases: bool = False) -> dict[str, Any]:
    """Top ops by self CPU time and the grouped shares of the profiled wall time (and per phase)."""
    wall_us = wall_s * 1e6
    events = [e for e in prof.events() if e.device_type.name == "CPU"]
    groups: dict[str, float] = defaultdict(float)
    by_phase: dict[str, float] = defaultdict(float)
    for event in events:
        groups[classify(event)] += event.self_cpu_time_total
        if phases:
            by_phase[phase(event)] += event.self_cpu_time_total
    inside = sum(groups.values())
    groups[GROUPS[-1]] = max(0.0, wall_us - inside)
    by_phase[PHASES[-1]] += max(0.0, wall_us - inside)
    averages = sorted(prof.key_averages(), key=lambda a: a.self_cpu_time_total, reverse=True)
    top = [
        {
            "op": a.key,
            "calls": a.count,
            "self_ms": a.self_cpu_time_total / 1e3,
            "share": a.self_cpu_time_total / wall_us,
        }
        for a in averages[:TOP]
    ]
    return {
        "wall_s": wall_s,
        "ops_s": inside / 1e6,
        "threads": len({e.thread for e in events}),
        "top": top,
        "groups": {g: groups.get(g, 0.0) / wall_us for g in GROUPS},
        "phases": {p: by_phase.get(p, 0.0) / wall_us for p in PHASES} if phases else {},
        "sdpa_kernels": sorted({e.name for e in events if "scaled_dot_product" in e.name}),
    }


# ---- (a) one training step ---------------------------------------------------------------------


def _set_attention_dropout(module: torch.nn.Module, p: float) -> int:
    """Set the attention-probs dropout of every self-attention block (BERT: ``self.dropout``); count them."""
    changed = 0
    for sub in module.modules():
        if type(sub).__name__.endswith("SelfAttention") and isinstance(getattr(sub, "dropout", None), torch.nn.Dropout):
            sub.dropout.p = p
            changed += 1
    if not changed:
        raise RuntimeError("no self-attention dropout found to override")
    return changed


def _training_cfg(run_dir: Path, steps: int, precision: str = "bf16") -> Any:
    from experiments.benchmarks.common import MINILM
    from experiments.benchmarks.st_train import compose_ours
    from jobmatch.model.sources import resolve_model_source

    return compose_ours(resolve_model_source(MINILM), precision, steps, run_dir, "cpu")


def profile_training(attention_dropout: float | None = None) -> dict[str, Any]:
    """Profile the second training step (data, forward, backward, optimizer) of our bf16 stage-1 path."""
    import jobmatch.app.builders as entry
    from experiments.benchmarks.training import train_steps

    window: dict[str, Any] = {}

    def factory(cfg: Any) -> Any:
        module = entry.build_module(cfg)
        if attention_dropout is not None:
            _set_attention_dropout(module, attention_dropout)
        prof = profile(activities=[ProfilerActivity.CPU], record_shapes=True)
        training_step, backward = module.training_step, module.backward

        def scoped_training_step(*args: Any, **kwargs: Any) -> Any:
            with record_function(FORWARD_SCOPE):
                return training_step(*args, **kwargs)

        def scoped_backward(*args: Any, **kwargs: Any) -> None:
            with record_function(BACKWARD_SCOPE):
                backward(*args, **kwargs)

        def on_train_batch_end(outputs: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx == 0:  # after the warm-up step: profile the next one, data loading included
                prof.start()
                window["start"] = time.perf_counter()
            elif batch_idx == 1:
                window["wall_s"] = time.perf_counter() - window["start"]
                prof.stop()
                window["prof"] = prof
                masks = [batch.query.attention_mask, batch.passages.attention_mask]
                window["real_tokens"] = int(sum(int(m.sum()) for m in masks))
                window["padded_tokens"] = int(sum(m.numel() for m in masks))
                window["shapes"] = [list(m.shape) for m in masks]

        module.training_step = scoped_training_step  # type: ignore[method-assign]
        module.backward = scoped_backward  # type: ignore[method-assign]
        module.on_train_batch_end = on_train_batch_end  # type: ignore[method-assign]
        return module

    with tempfile.TemporaryDirectory(prefix="profile-step-") as scratch:
        out = train_steps(_training_cfg(Path(scratch), steps=2), module_factory=factory)
    result = summarize(window["prof"], window["wall_s"], phases=True)
    result["step_s"] = out["step_s"]
    result.update({k: window[k] for k in ("real_tokens", "padded_tokens", "shapes")})
    return result


# ---- (b) one evaluation encode batch -----------------------------------------------------------


def profile_encode() -> dict[str, Any]:
    """Profile ``encode_texts`` of 64 talent texts in one bf16 batch (MiniLM without adapter)."""
    from experiments.benchmarks.common import MINILM
    from experiments.benchmarks.st_eval import MAX_LENGTH, ours
    from experiments.benchmarks.training import compose
    from jobmatch.app.builders import build_datamodule
    from jobmatch.model.sources import resolve_model_source
    from jobmatch.retrieval.encode import encode_texts

    with tempfile.TemporaryDirectory(prefix="profile-encode-") as scratch:
        cfg = compose([f"model.name_or_path={resolve_model_source(MINILM)}", "data=synthetic_small"], scratch)
        corpus = build_datamodule(cfg).test_retrieval().corpus
    texts = list(corpus.values())[:EVAL_TEXTS]
    encoder = ours(resolve_model_source(MINILM), "cpu")

    def call() -> None:
        encode_texts(encoder, texts, max_length=MAX_LENGTH, batch_size=EVAL_TEXTS, bf16=True, progress=False)

    call()  # warm-up
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        start = time.perf_counter()
        call()
        wall_s = time.perf_counter() - start
    return summarize(prof, wall_s)


# ---- attention-dropout A/B in separate processes ----------------------------------------------


def dropout_trial(attention_dropout: float | None, steps: int = STEPS_AB) -> dict[str, Any]:
    """One process: our bf16 training with ``model.attention_dropout`` (None: the checkpoint's 0.1),
    1 warm-up + ``steps`` steps; median step seconds (no profiler)."""
    from experiments.benchmarks.common import median
    from experiments.benchmarks.training import train_steps

    with tempfile.TemporaryDirectory(prefix="dropout-ab-") as scratch:
        cfg = _training_cfg(Path(scratch), steps=1 + steps)
        cfg.model.attention_dropout = attention_dropout
        out = train_steps(cfg)
    dropouts = {m.dropout.p for m in out["module"].modules() if type(m).__name__.endswith("SelfAttention")}
    return {"step_s": median(out["step_s"][1:]), "steps": out["step_s"], "attention_dropouts": sorted(dropouts)}


def dropout_alternating(pairs: int = PAIRS_AB) -> dict[str, Any]:
    """One process, attention dropout flipped between steps (0.1, 0.0, 0.1, ...): wall and CPU seconds per step.

    Step-by-step alternation seconds apart is robust to the shared machine's load drifting between
    processes. The first step of each setting is a warm-up; a pair is a 0.1 step and the 0.0 step after it.
    """
    import jobmatch.app.builders as entry
    from experiments.benchmarks.common import median
    from experiments.benchmarks.training import train_steps

    settings = (0.1, 0.0)
    times: dict[float, list[tuple[float, float]]] = {p: [] for p in settings}
    clock: dict[str, float] = {}

    def factory(cfg: Any) -> Any:
        module = entry.build_module(cfg)

        def on_train_batch_start(batch: Any, batch_idx: int) -> None:
            _set_attention_dropout(module, settings[batch_idx % 2])
            clock["wall"], clock["cpu"] = time.perf_counter(), time.process_time()

        def on_train_batch_end(outputs: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx >= 2:
                elapsed = (time.perf_counter() - clock["wall"], time.process_time() - clock["cpu"])
                times[settings[batch_idx % 2]].append(elapsed)

        module.on_train_batch_start = on_train_batch_start  # type: ignore[method-assign]
        module.on_train_batch_end = on_train_batch_end  # type: ignore[method-assign]
        return module

    with tempfile.TemporaryDirectory(prefix="dropout-alt-") as scratch:
        train_steps(_training_cfg(Path(scratch), steps=2 + 2 * pairs), module_factory=factory)
    a, b = times[0.1], times[0.0]
    return {
        "wall_s": {str(p): [t[0] for t in times[p]] for p in settings},
        "cpu_s": {str(p): [t[1] for t in times[p]] for p in settings},
        "wall_speedup": median([x[0] / y[0] for x, y in zip(a, b, strict=True)]),
        "cpu_speedup": median([x[1] / y[1] for x, y in zip(a, b, strict=True)]),
    }


def dropout_ab(repetitions: int) -> dict[str, Any]:
    """Alternate trials (0.1, 0.0, 0.1, 0.0, ...) in fresh processes; medians and ratios."""
    from experiments.benchmarks.common import median, run_isolated

    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    trials: dict[str, list[dict[str, Any]]] = {"0.1": [], "0.0": []}
    for rep in range(repetitions):
        for label, p in (("0.1", None), ("0.0", 0.0)):  # None: the checkpoint's own 0.1
            result = run_isolated(MODULE, "dropout_trial", {"attention_dropout": p})
            assert result["attention_dropouts"] == [float(label)], result["attention_dropouts"]
            trials[label].append(result)
            print(
                f"rep {rep} dropout {label}: {result['step_s']:.2f} s/step, {result['peak_rss_mb']:.0f} MiB", flush=True
            )
    alternating = run_isolated(MODULE, "dropout_alternating", {"pairs": PAIRS_AB})
    print(f"in-process alternation: {alternating}", flush=True)
    step = {k: median([t["step_s"] for t in v]) for k, v in trials.items()}
    rss = {k: median([t["peak_rss_mb"] for t in v]) for k, v in trials.items()}
    paired = median([a["step_s"] / b["step_s"] for a, b in zip(trials["0.1"], trials["0.0"], strict=True)])
    return {
        "trials": trials,
        "step_s": step,
        "peak_rss_mb": rss,
        "speedup": paired,
        "memory_ratio": rss["0.0"] / rss["0.1"],
        "alternating": alternating,
    }


# ---- report ------------------------------------------------------------------------------------


def _section(title: str, result: dict[str, Any], what: str) -> list[str]:
    lines = [
        f"## {title}",
        "",
        what,
        "",
        f"Profiled wall time {result['wall_s']:.2f} s; time inside torch ops {result['ops_s']:.2f} s "
        f"({result['ops_s'] / result['wall_s']:.0%}); threads with events: {result['threads']}; "
        f"SDPA ops seen: {', '.join(result['sdpa_kernels']) or 'none'}.",
        "",
        f"Top {TOP} ops by self CPU time:",
        "",
        "| op | calls | self ms | share of wall |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| `{t['op']}` | {t['calls']} | {t['self_ms']:.1f} | {t['share']:.1%} |" for t in result["top"]]
    lines += ["", "Grouped (every op's self time):", "", "| group | share of wall |", "|---|---:|"]
    lines += [f"| {g} | {share:.1%} |" for g, share in result["groups"].items()]
    if result.get("phases"):
        lines += ["", "By phase (our scopes around `training_step` and `backward`):", "", "| phase | share of wall |"]
        lines += ["|---|---:|", *(f"| {p} | {share:.1%} |" for p, share in result["phases"].items())]
    return [*lines, ""]


def write_report(
    training: dict[str, Any],
    no_attention_dropout: dict[str, Any],
    encode: dict[str, Any],
    ab: dict[str, Any] | None,
    path: Path,
) -> None:
    """profile.md: both profiles, the training step's grouping without attention dropout, the dropout A/B."""
    threads = torch.get_num_threads()
    lines = [
        "# Profile: one stage-1 training step and one evaluation encode batch (CPU)",
        "",
        "Written by `experiments/benchmarks/profile_step.py` (command in its docstring); torch "
        f"{torch.__version__}, {threads} torch threads, {os.cpu_count()} cores. Shares are of the profiled "
        "wall time; the profiler adds some overhead to the small ops. Self times are the calling thread's "
        "(intra-op workers add no events), so the groups add up to 100 %. The machine is shared "
        f"(load average {os.getloadavg()[0]:.1f} when written): absolute seconds are inflated, shares less so.",
        "",
    ]
    steps = ", ".join(f"{s:.2f}" for s in training["step_s"])
    lines += _section(
        "(a) Training step: MiniLM + LoRA r=8, bf16 autocast, 8 JDs x (1 + 3) passages, 128 tokens",
        training,
        "The second step of `train_steps` on `st_train`'s config (data=synthetic_small), from the end of "
        f"the warm-up step to the end of this one (data loading included). Step seconds (StepTimer, "
        f"the second under the profiler): {steps}. Batch shapes (queries, passages): "
        f"{training['shapes'][0]}, {training['shapes'][1]}; real tokens {training['real_tokens']} of "
        f"{training['padded_tokens']} ({training['real_tokens'] / training['padded_tokens']:.0%}: padding is "
        "what length-sorted or token-budget batching could save).",
    )
    lines += [
        "### The same step with attention-probs dropout 0.0 (checkpoint: 0.1)",
        "",
        f"Profiled wall time {no_attention_dropout['wall_s']:.2f} s (with 0.1 above: {training['wall_s']:.2f} s; one "
        "profiled step each, see the A/B below for timing); SDPA ops seen: "
        f"{', '.join(no_attention_dropout['sdpa_kernels'])}.",
        "",
        "| group | dropout 0.1: share | 0.1: s | dropout 0.0: share | 0.0: s |",
        "|---|---:|---:|---:|---:|",
    ]
    for group in GROUPS:
        a, b = training["groups"][group], no_attention_dropout["groups"][group]
        lines.append(
            f"| {group} | {a:.1%} | {a * training['wall_s']:.2f} | {b:.1%} | {b * no_attention_dropout['wall_s']:.2f} |"
        )
    lines.append("")
    lines += _section(
        f"(b) Evaluation encode batch: {EVAL_TEXTS} talent texts, 128 tokens, bf16, inference mode",
        encode,
        "`encode_texts` (tokenise, length sort, pad, forward, mean pooling, normalise) of the first "
        f"{EVAL_TEXTS} talents of synthetic_small's test corpus, batch {EVAL_TEXTS}, MiniLM without "
        "adapter, after one warm-up call.",
    )
    if ab is not None:
        n = len(ab["trials"]["0.1"])
        lines += [
            "## Attention-probs dropout 0.1 (checkpoint) vs 0.0: our training step, bf16",
            "",
            "Same step as (a), set by `model.attention_dropout`; each trial a fresh process "
            f"(`common.run_isolated`), alternating, {n} trials each; per trial the median of {STEPS_AB} steps "
            "after one warm-up step; peak RSS of the process.",
            "",
            "| attention dropout | step s (median) | peak RSS MiB (median) |",
            "|---|---:|---:|",
            f"| 0.1 (checkpoint) | {ab['step_s']['0.1']:.2f} | {ab['peak_rss_mb']['0.1']:.0f} |",
            f"| 0.0 | {ab['step_s']['0.0']:.2f} | {ab['peak_rss_mb']['0.0']:.0f} |",
            "",
            f"Speed-up of 0.0 (median of paired ratios): {ab['speedup']:.2f}x; peak memory 0.0 / 0.1: "
            f"{ab['memory_ratio']:.2f}.",
            "",
            "Per trial (step s, peak RSS MiB): "
            + "; ".join(
                f"{k}: " + ", ".join(f"{t['step_s']:.2f}/{t['peak_rss_mb']:.0f}" for t in v)
                for k, v in ab["trials"].items()
            ),
            "",
        ]
        alt = ab["alternating"]
        lines += [
            f"Step by step in one process ({len(alt['wall_s']['0.1'])} pairs after a warm-up step of each, the "
            "attention dropout flipped between steps; robust to the load drifting between processes): "
            f"speed-up of 0.0 (median of paired ratios) {alt['wall_speedup']:.2f}x in wall time, "
            f"{alt['cpu_speedup']:.2f}x in process CPU time.",
            "",
            *(
                f"- {kind} s, dropout {p}: " + ", ".join(f"{x:.2f}" for x in alt[kind][p])
                for kind in ("wall_s", "cpu_s")
                for p in ("0.1", "0.0")
            ),
            "",
        ]
    notes = path.read_text().partition(NOTES)[2] if path.exists() else ""
    path.write_text("\n".join([*lines, NOTES]) + (notes or "\n"))


def main(argv: list[str] | None = None) -> None:
    """Run both profiles (and the dropout A/B with ``--dropout-ab N``) and write profile.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dropout-ab", type=int, default=0, metavar="N", help="A/B trials per setting (0: skip)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    ab = dropout_ab(args.dropout_ab) if args.dropout_ab else None
    training = profile_training()
    no_attention_dropout = profile_training(attention_dropout=0.0)
    encode = profile_encode()
    write_report(training, no_attention_dropout, encode, ab, args.out)
    print(args.out.read_text())


if __name__ == "__main__":
    main()
