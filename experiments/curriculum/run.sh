#!/usr/bin/env bash
# Stage-1 curriculum comparison: BM25, the untrained model, round 0, and 2 more rounds of
# incremental and of combined mining. Both curricula share round 0 (copied, then resumed).
#   bash experiments/curriculum/run.sh [data=synthetic] [more overrides]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-outputs/experiments/curriculum}
COMMON=(model=minilm "trainer.precision='\${fast_bf16:\${trainer.accelerator},bf16-mixed,32-true}'" "eval.bf16='\${fast_bf16:\${trainer.accelerator},true,false}'" data=synthetic_small
        trainer.max_epochs=2 data.batch_size=16 data.n_negatives=3 stage.optim.lr=2e-4
        curriculum.rounds=2 curriculum.later_epochs=1 logger=csv "$@")
$PY -m jobmatch.curriculum curriculum=incremental paths.run_dir="$OUT/incremental" "${COMMON[@]}"
mkdir -p "$OUT/combined"
if [ ! -f "$OUT/combined/lineage.json" ]; then
  python3 -c "import json,sys; l=json.load(open('$OUT/incremental/lineage.json')); json.dump(l[:1], open('$OUT/combined/lineage.json','w'), indent=2)"
fi
$PY -m jobmatch.curriculum curriculum=combined paths.run_dir="$OUT/combined" "${COMMON[@]}"
$PY -m jobmatch.report.curriculum "$OUT" > "$OUT/table.md"
cat "$OUT/table.md"
