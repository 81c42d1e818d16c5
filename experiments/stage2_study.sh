#!/usr/bin/env bash
# Shared by the stage-2 studies (experiments/{visible_length,active_annotation,listwise,soft_labels}/run.sh):
# the stage-1 checkpoint, the common settings of make reproduce's stage 2, and one annotation / one run.
# Sourced, not run. Every step skips what is done, so a rerun resumes.
PY=${PY:-.venv/bin/python}
DATA=${DATA:-synthetic_small}
SEEDS=${SEEDS:-"0 1 2"}
LR=${LR:-5e-4}                 # make reproduce's first stage-2 rate (LoRA on MiniLM)
# The stage-1 model every run starts from: make reproduce's first seed by default.
if [ -z "${STAGE1:-}" ]; then
  STAGE1=$($PY -m jobmatch.report.curriculum --best-checkpoint outputs/reproduce/curriculum/seed0 2>/dev/null) || {
    echo "error: set STAGE1=<stage-1 best.ckpt> (or run make reproduce first)" >&2; exit 2; }
fi
# bf16 where it is fast (GPUs, CPUs with AVX-512 BF16); the value is quoted for Hydra's override parser, which
# refuses a nested interpolation unquoted
COMMON=(model=minilm data="$DATA" "trainer.precision='\${fast_bf16:\${trainer.accelerator},bf16-mixed,32-true}'"
        "eval.bf16='\${fast_bf16:\${trainer.accelerator},true,false}'" logger=csv)
# shellcheck disable=SC2206
COMMON+=(${STUDY_ARGS:-})     # overrides for annotation and training alike, e.g. STUDY_ARGS="model=tiny_bert"

annotate_once() {  # dir [overrides...]: judged pairs from STAGE1's rankings (offline judge), once
  local dir=$1; shift
  [ -f "$dir/preferences_train.jsonl" ] && return 0
  $PY -m jobmatch.annotate ckpt="$STAGE1" paths.run_dir="$dir" "${COMMON[@]}" "$@"
}

train_once() {  # dir pairs_dir [overrides...]: one stage-2 run from STAGE1 on the pairs, evaluated
  local dir=$1 pairs=$2; shift 2
  [ -f "$dir/results.json" ] && { echo "skip $dir (done)"; return 0; }
  $PY -m jobmatch.train stage.init_ckpt="$STAGE1" stage.optim.lr="$LR" trainer.max_epochs=1 data.batch_size=16 \
    data.preference_train_file="$pairs/preferences_train.jsonl" \
    data.preference_val_file="$pairs/preferences_val.jsonl" \
    data.preference_test_file="$pairs/preferences_test.jsonl" paths.run_dir="$dir" "${COMMON[@]}" "$@"
}
