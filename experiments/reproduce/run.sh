#!/usr/bin/env bash
# Full reproduction of the paper's analyses on the synthetic benchmark (make reproduce):
#   1. stage 1: the curriculum comparison, incremental vs combined (1 mining round by default), once per seed
#      (experiments/curriculum), evaluated on the test and the out-of-distribution test split;
#   2. stage 2: offline-judged pairs from the first seed's best stage-1 model (on validation), then the methods
#      over a learning-rate grid and seeds (experiments/rankpo);
#   3. the fairness audit of stage 1 and of each method's first-seed model (python -m jobmatch.audit);
#   4. the tables and figures (python -m jobmatch.report, python -m jobmatch.report.curriculum), copied into
#      experiments/reproduce/results/.
# Every step skips what is already done, so a rerun after an interruption resumes.
#   bash experiments/reproduce/run.sh                                   # CPU defaults (below), 3 seeds
#   JOBS=2 bash experiments/reproduce/run.sh                            # two runs side by side (more cores)
#   DATA=synthetic METHODS="rankpo rankpo_hinge simrankpo simrankpo_hinge sft" LRS="1e-5 3e-5 1e-4" \
#     bash experiments/reproduce/run.sh                                 # the experiment-size market (hours on CPU)
#   LRS="5e-7 1e-6 2e-6 5e-6 1e-5" STAGE1_ARGS="model=llama3_2_1b trainer=gpu" \
#     STAGE2_ARGS="model=llama3_2_1b trainer=gpu" bash experiments/reproduce/run.sh   # the paper's grid, GPU
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-outputs/reproduce}
DATA=${DATA:-synthetic_small}
SEEDS=${SEEDS:-"0 1 2"}  # stage 1 (one curriculum per seed) and stage 2 (every method x lr cell per seed)
# Runs side by side. On 2 cores JOBS=1 is faster: two 1-thread runs side by side took 968 s each for a round-0
# training that one 2-thread run does in about 300 s (and each needed 7.7 GB with the setting below, 11 GB without).
JOBS=${JOBS:-1}
# CPU defaults (measured on 2 cores: stage 1 43 min, 18 stage-2 runs of about 5 min, 4 audits 8 min; about 2 h 20
# min in all): one mining round per curriculum, one epoch per round, passages cut at 192 tokens; stage 2 at two
# learning rates, for matched-alignment comparisons (LoRA on MiniLM wants larger rates than the paper's full
# fine-tuning grid, 5e-7 ... 1e-5). The audit takes the first rate's models. One rate, about 45 min less:
# LRS=5e-4. Two mining rounds: STAGE1_ARGS="trainer.max_epochs=1 data.max_passage_length=192 curriculum.rounds=2".
LRS=${LRS:-"5e-4 1e-4"}
METHODS=${METHODS:-"rankpo simrankpo sft"}
STAGE1_ARGS=${STAGE1_ARGS:-"trainer.max_epochs=1 data.max_passage_length=192 curriculum.rounds=1"}
STAGE2_ARGS=${STAGE2_ARGS:-"data.max_passage_length=192"}
PAIRS_PER_QUERY=${PAIRS_PER_QUERY:-4}
export JOBS
if [ "$JOBS" -gt 1 ]; then
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / JOBS > 0 ? $(nproc) / JOBS : 1 ))}
  # glibc keeps freed activation buffers in its heap: allocations above 64 KiB mapped on their own keep
  # two MiniLM runs within 24 GB (stage-1 peak RSS 11.3 GB -> 7.7 GB)
  export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-65536}
fi
start=$(date +%s)

# The market is generated once before runs start side by side.
$PY -m jobmatch.data.synthetic --preset "$DATA" --out "outputs/data/$DATA-seed0"
RESULTS=${RESULTS:-experiments/reproduce/results}
mkdir -p "$OUT/curriculum" "$OUT/stage2/logs"
first=${SEEDS%% *}

stage1_job() {  # seed: one curriculum (incremental and combined, shared round 0); table.md marks it done
  local dir="$OUT/curriculum/seed$1"
  echo "stage 1 seed $1: started (log $dir.log)"
  if OUT="$dir" bash experiments/curriculum/run.sh data="$DATA" seed="$1" $STAGE1_ARGS > "$dir.log" 2>&1; then
    echo "stage 1 seed $1: done after $(( ($(date +%s) - start) / 60 )) min"
  else
    touch "$dir.failed"; echo "stage 1 seed $1: failed, see $dir.log"; return 1
  fi
}

stage2_job() {  # method lr seed: waits for the first seed's curriculum, whose best checkpoint starts stage 2
  local log="$OUT/stage2/logs/$1-lr$2-seed$3.log" ready="$OUT/curriculum/seed$first/table.md"
  until [ -s "$ready" ]; do [ -f "$OUT/curriculum/seed$first.failed" ] && return 1; sleep 20; done
  local stage1; stage1=$($PY -m jobmatch.report.curriculum --best-checkpoint "$OUT/curriculum/seed$first")
  echo "stage 2 $1 lr $2 seed $3: started from $stage1 (log $log)"
  if OUT="$OUT/stage2" STAGE1="$stage1" RUNS="$1:$2" SEEDS="$3" PAIRS_PER_QUERY="$PAIRS_PER_QUERY" REPORT=0 \
      bash experiments/rankpo/run.sh data="$DATA" $STAGE2_ARGS > "$log" 2>&1; then
    echo "stage 2 $1 lr $2 seed $3: done after $(( ($(date +%s) - start) / 60 )) min"
  else
    echo "stage 2 $1 lr $2 seed $3: failed, see $log"; return 1
  fi
}

# One queue, JOBS at a time: the curricula first, then every stage-2 run (each waits for the first seed's stage 1).
JOBLIST=()
for seed in $SEEDS; do JOBLIST+=("stage1_job $seed"); done
for method in $METHODS; do for lr in $LRS; do for seed in $SEEDS; do JOBLIST+=("stage2_job $method $lr $seed"); done; done; done
export -f stage1_job stage2_job; export PY OUT DATA SEEDS STAGE1_ARGS STAGE2_ARGS PAIRS_PER_QUERY first start
printf '%s\n' "${JOBLIST[@]}" | xargs -P "$JOBS" -L 1 bash -c '"$@"' _
$PY -m jobmatch.report.curriculum "$OUT/curriculum" > "$OUT/curriculum/table.md"
$PY -m jobmatch.report "$OUT/stage2" --out "$OUT/stage2"
# The fairness audit (names and pronouns swapped; selection rates by group) of stage 1 and of each method's
# first-seed model at the first learning rate: one table in fairness.md, details in audit/<model>/audit.md.
STAGE1=$($PY -m jobmatch.report.curriculum --best-checkpoint "$OUT/curriculum/seed$first")
AUDITS=("$OUT/audit/stage1"); mkdir -p "$OUT/audit"
for method in $METHODS; do AUDITS+=("$OUT/audit/$method"); done
for dir in "${AUDITS[@]}"; do
  name=$(basename "$dir"); ckpt=$STAGE1
  [ "$name" = stage1 ] || ckpt="$OUT/stage2/$name-lr${LRS%% *}-seed$first/checkpoints/best.ckpt"
  # shellcheck disable=SC2086
  [ -f "$dir/results.json" ] || $PY -m jobmatch.audit ckpt="$ckpt" data="$DATA" $STAGE2_ARGS paths.run_dir="$dir" \
    logger=csv > "$dir.log" 2>&1 || { echo "audit of $name failed: see $dir.log"; exit 1; }
done
$PY -m jobmatch.report.fairness_report "${AUDITS[@]}" > "$OUT/fairness.md"
echo "wall time: $(( ($(date +%s) - start) / 60 )) min"
mkdir -p "$RESULTS"
cp "$OUT/curriculum/table.md" "$RESULTS/curriculum.md"
cp "$OUT/stage2/report.md" "$OUT"/stage2/*.png "$OUT/fairness.md" "$RESULTS/"
echo "tables and figures: $RESULTS/"
