#!/usr/bin/env bash
# Judge disagreement as soft labels: RankPO on hard verdicts vs on the judge's preference probability (ε = 1 − p per
# pair), on the same pairs, judged in both presentation orders (2 judge calls per pair; the hard-label run uses the
# merged verdict, so both see the same labels' signs).
#   STAGE1=path/to/best.ckpt bash experiments/soft_labels/run.sh
#   SOURCES="probability confidence" SEEDS="0 1 2" bash experiments/soft_labels/run.sh
# Runs: OUT/hard-seed<S>/ and OUT/soft_<source>-seed<S>/ (stage.name rankpo_hard / rankpo_soft_<source>).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-outputs/experiments/soft_labels}
SOURCES=${SOURCES:-"probability"}
PAIRS_PER_QUERY=${PAIRS_PER_QUERY:-4}
source experiments/stage2_study.sh
mkdir -p "$OUT"
annotate_once "$OUT/annotate" annotate.pairs_per_query="$PAIRS_PER_QUERY" annotate.judge_both_orders=true \
  data.max_passage_length=192
for seed in $SEEDS; do
  train_once "$OUT/hard-seed$seed" "$OUT/annotate" stage=rankpo stage.name=rankpo_hard seed="$seed" \
    data.max_passage_length=192 "$@"
  for source in $SOURCES; do
    train_once "$OUT/soft_$source-seed$seed" "$OUT/annotate" stage=rankpo stage.name="rankpo_soft_$source" \
      stage.soft_labels="$source" seed="$seed" data.max_passage_length=192 "$@"
  done
done
$PY -m jobmatch.report "$OUT" --out "$OUT"
