#!/usr/bin/env bash
# Fewer judge calls for the same alignment: the budget curve. For each sampler, budget (pairs per train JD; 240 train
# JDs on synthetic_small: 1, 2, 5, 10 give 240, 480, 1200, 2400 judged training pairs) and seed, one annotation
# from the same stage-1 checkpoint (held-out pairs uniform: the same test pairs for every sampler and budget of a
# seed), then RankPO on it; then the curve with paired intervals.
#   STAGE1=path/to/best.ckpt bash experiments/active_annotation/run.sh
#   SAMPLERS="uniform uncertainty" BUDGETS="2 10" SEEDS="0" bash experiments/active_annotation/run.sh   # smaller
# Runs: OUT/<sampler>-ppq<P>-seed<S>/ (pairs in OUT/annotate/<same name>/); OUT/curve.md, OUT/curve.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-outputs/experiments/active_annotation}
SAMPLERS=${SAMPLERS:-"uniform uncertainty disagreement rank_strata"}
BUDGETS=${BUDGETS:-"1 2 5 10"}
source experiments/stage2_study.sh
mkdir -p "$OUT/annotate"
for sampler in $SAMPLERS; do
  for budget in $BUDGETS; do
    for seed in $SEEDS; do
      name="$sampler-ppq$budget-seed$seed"
      annotate_once "$OUT/annotate/$name" annotate.sampler="$sampler" annotate.pairs_per_query="$budget" \
        seed="$seed" data.max_passage_length=192
      train_once "$OUT/$name" "$OUT/annotate/$name" stage=rankpo stage.name="rankpo-$sampler-ppq$budget" \
        seed="$seed" data.max_passage_length=192 "$@"
    done
  done
done
$PY -m experiments.active_annotation.curve "$OUT"
