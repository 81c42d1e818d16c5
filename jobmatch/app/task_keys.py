"""What each task reads from the root config: the top-level nodes that define its computation.

One place for two uses: a rerun into a run directory must match the saved config on these nodes
(:mod:`jobmatch.app.run_config`), and a W&B run logs only these nodes of its resolved config
(:mod:`jobmatch.app.wandb_meta`), so that a stage-2 run shows no pipeline ``stage2.*`` defaults and an
evaluation no optimiser. The root config composes every group for every task; until each task has a root
of its own, this table says which part is whose.
"""

from __future__ import annotations

TRAIN_KEYS = ("seed", "model", "data", "stage", "trainer", "eval")
CURRICULUM_KEYS = (*TRAIN_KEYS, "mining", "curriculum")
TASK_KEYS: dict[str, tuple[str, ...]] = {
    "train": TRAIN_KEYS,
    "evaluate": ("seed", "model", "data", "eval", "ckpt"),
    "annotate": ("seed", "model", "data", "eval", "annotate", "judge", "ckpt"),
    "audit": ("seed", "model", "data", "eval", "fairness", "judge", "ckpt"),
    "curriculum": CURRICULUM_KEYS,
    "pipeline": (*CURRICULUM_KEYS, "annotate", "judge", "stage2", "trainer2", "fairness", "acceptance"),
}
# The W&B job type of each task's run: a curriculum's or pipeline's own run holds the combined results.
JOB_TYPES = {"train": "train", "evaluate": "eval", "annotate": "annotate", "audit": "audit",
             "curriculum": "summary", "pipeline": "summary"}
