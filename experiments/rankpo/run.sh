#!/usr/bin/env bash
# Stage 2 on the synthetic benchmark: annotate with the offline judge from a stage-1 checkpoint,
# then RankPO (sigmoid, hinge; frozen reference), SimRankPO and SFT; one results table.
#   STAGE1=path/to/best.ckpt bash experiments/rankpo/run.sh [extra overrides]
#   STAGE1=... PAIRS=<dir with preferences_{train,val,test}.jsonl> bash experiments/rankpo/run.sh   # reuse pairs
#   RUNS="rankpo:1e-5 sft:1e-5" SEEDS="0 1 2" ...   # method:lr pairs, each run once per seed
#   REPORT=0 ...                                    # runs only (experiments/reproduce/run.sh queues single runs)
# Every run writes OUT/<method>-lr<lr>[-seed<seed>]/results.json; a finished run is skipped on rerun.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-outputs/experiments/rankpo}
STAGE1=${STAGE1:-outputs/experiments/curriculum/incremental/round0/train/checkpoints/best.ckpt}
RUNS=${RUNS:-"rankpo:1e-4 rankpo:3e-4 rankpo_hinge:1e-4 simrankpo:1e-4 sft:1e-4"}
SEEDS=${SEEDS:-""}           # empty: one run with the config's seed, directory without a seed suffix
PAIRS_PER_QUERY=${PAIRS_PER_QUERY:-4}
COMMON=(model=minilm data=synthetic_small "trainer.precision='\${fast_bf16:\${trainer.accelerator},bf16-mixed,32-true}'" "eval.bf16='\${fast_bf16:\${trainer.accelerator},true,false}'" logger=csv "$@")
PAIRS=${PAIRS:-$OUT/annotate}
mkdir -p "$OUT"
(  # one annotation, even when several copies of this script start side by side
  flock 9
  if [ ! -f "$PAIRS/preferences_train.jsonl" ]; then
    $PY -m jobmatch.annotate ckpt="$STAGE1" annotate.pairs_per_query="$PAIRS_PER_QUERY" paths.run_dir="$PAIRS" \
      "${COMMON[@]}"
  fi
) 9>"$OUT/.annotate.lock"

for run in $RUNS; do
  stage=${run%%:*}; lr=${run##*:}
  for seed in ${SEEDS:-default}; do
    dir="$OUT/$stage-lr$lr"; seed_arg=()
    if [ "$seed" != default ]; then dir="$dir-seed$seed"; seed_arg=(seed="$seed"); fi
    [ -f "$dir/results.json" ] && { echo "skip $dir (done)"; continue; }
    $PY -m jobmatch.train stage="$stage" stage.init_ckpt="$STAGE1" stage.optim.lr="$lr" trainer.max_epochs=1 \
      data.batch_size=16 data.preference_train_file="$PAIRS/preferences_train.jsonl" \
      data.preference_val_file="$PAIRS/preferences_val.jsonl" \
      data.preference_test_file="$PAIRS/preferences_test.jsonl" paths.run_dir="$dir" "${seed_arg[@]}" \
      "${COMMON[@]}"
  done
done
if [ "${REPORT:-1}" != 0 ]; then $PY -m jobmatch.report "$OUT" --out "$OUT"; fi
