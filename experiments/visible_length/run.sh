#!/usr/bin/env bash
# What the encoder can see: alignment, intent and the judge's visible ceiling as the talent token limit grows.
# One annotation (stage-1 rankings at 192 tokens; the judge reads whole texts), then RankPO at each limit and seed
# from the same stage-1 checkpoint, on the same pairs; python -m jobmatch.report pairs the limits JD by JD.
#   STAGE1=path/to/best.ckpt bash experiments/visible_length/run.sh
#   LENGTHS="128 192 256 512" SEEDS="0 1 2" METHOD=rankpo LR=5e-4 bash experiments/visible_length/run.sh
# Runs: OUT/len<L>-seed<S>/ (stage.name=<METHOD>-len<L>, so that the report compares limits as methods).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-outputs/experiments/visible_length}
LENGTHS=${LENGTHS:-"128 192 256 512"}
METHOD=${METHOD:-rankpo}
PAIRS_PER_QUERY=${PAIRS_PER_QUERY:-4}
source experiments/stage2_study.sh
mkdir -p "$OUT"
annotate_once "$OUT/annotate" annotate.pairs_per_query="$PAIRS_PER_QUERY" data.max_passage_length=192
for length in $LENGTHS; do
  for seed in $SEEDS; do
    train_once "$OUT/len$length-seed$seed" "$OUT/annotate" stage="$METHOD" stage.name="$METHOD-len$length" \
      seed="$seed" data.max_passage_length="$length" "$@"
  done
done
$PY -m jobmatch.report "$OUT" --out "$OUT"
