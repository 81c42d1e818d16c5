#!/usr/bin/env bash
# Listwise vs pairwise RankPO at equal judge budget: the same judged pairs (PAIRS_PER_QUERY per train JD, so that a
# JD's pairs form a list), the same β, τ, γ/β, frozen reference, learning rates and seeds.
#   STAGE1=path/to/best.ckpt bash experiments/listwise/run.sh
#   LRS="5e-4 1e-4" SEEDS="0 1 2" PAIRS_PER_QUERY=10 bash experiments/listwise/run.sh
# Runs: OUT/<method>-lr<lr>-seed<S>/; python -m jobmatch.report pairs the methods JD by JD (same lr and matched
# alignment).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-outputs/experiments/listwise}
LRS=${LRS:-"5e-4 1e-4"}
METHODS=${METHODS:-"rankpo rankpo_listwise"}
PAIRS_PER_QUERY=${PAIRS_PER_QUERY:-10}
source experiments/stage2_study.sh
mkdir -p "$OUT"
annotate_once "$OUT/annotate" annotate.pairs_per_query="$PAIRS_PER_QUERY" data.max_passage_length=192
for method in $METHODS; do
  for LR in $LRS; do
    for seed in $SEEDS; do
      train_once "$OUT/$method-lr$LR-seed$seed" "$OUT/annotate" stage="$method" seed="$seed" \
        data.max_passage_length=192 "$@"
    done
  done
done
$PY -m jobmatch.report "$OUT" --out "$OUT"
