"""RankPO step time and peak memory: precomputed (frozen) reference vs online reference.

Each measurement runs in its own process (peak RSS is per process); modes alternate over
repetitions and the medians are reported.

    .venv/bin/python experiments/rankpo/step_time.py STAGE1_CKPT PREF_DIR [reps] [steps]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def child(mode: str, ckpt: str, pairs: str, steps: int, out: str) -> None:
    """Train `steps` RankPO steps with the given reference mode; write step times and peak RSS."""
    sys.path.insert(0, str(ROOT))
    import lightning as L
    from lightning.pytorch.callbacks import Callback

    import jobmatch.app.train_task as entry
    from jobmatch.utils.run import peak_memory_mb
    from tests.helpers import compose_config

    class Timer(Callback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.start = 0.0

        def on_train_batch_start(self, *args) -> None:
            self.start = time.perf_counter()

        def on_train_batch_end(self, *args) -> None:
            self.times.append(time.perf_counter() - self.start)

    timer = Timer()
    original = entry.build_callbacks
    entry.build_callbacks = lambda *a, **k: [*original(*a, **k), timer]
    cfg = compose_config([
        "model=minilm", "data=synthetic_small", "logger=none", "trainer.precision=bf16-mixed", "eval.bf16=true",
        "stage=rankpo", f"stage.reference={mode}", f"stage.init_ckpt={ckpt}", "stage.evaluate=false",
        f"trainer.max_steps={steps}", "trainer.limit_val_batches=0", "trainer.enable_progress_bar=false",
        "data.batch_size=16", f"data.preference_train_file={pairs}/preferences_train.jsonl",
        f"data.preference_val_file={pairs}/preferences_val.jsonl",
        f"data.preference_test_file={pairs}/preferences_test.jsonl",
    ], run_dir=Path(out) / "run")
    L.seed_everything(0)
    entry.train(cfg)
    Path(out, "timing.json").write_text(json.dumps({"times": timer.times[1:], "peak_rss_mb": peak_memory_mb()}))


def main() -> None:
    ckpt, pairs = sys.argv[1], sys.argv[2]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    out_root = ROOT / "outputs" / "bench" / "rankpo_reference"
    results: dict[str, dict[str, list[float]]] = {m: {"step_s": [], "peak_rss_mb": []} for m in ("frozen", "online")}
    for rep in range(reps):
        for mode in ("frozen", "online"):
            out = out_root / f"{mode}-{rep}"
            out.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, __file__, "--child", mode, ckpt, pairs, str(steps), str(out)], check=True)
            data = json.loads((out / "timing.json").read_text())
            results[mode]["step_s"].append(statistics.median(data["times"]))
            results[mode]["peak_rss_mb"].append(data["peak_rss_mb"])
    summary = {m: {k: statistics.median(v) for k, v in r.items()} for m, r in results.items()}
    summary["ratio_step_frozen_over_online"] = summary["frozen"]["step_s"] / summary["online"]["step_s"]
    summary["ratio_peak_frozen_over_online"] = summary["frozen"]["peak_rss_mb"] / summary["online"]["peak_rss_mb"]
    print(json.dumps({"raw": results, "median": summary}, indent=2))


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        child(*sys.argv[2:6], sys.argv[6])
    else:
        main()
