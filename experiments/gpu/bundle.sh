#!/usr/bin/env bash
# Build the GPU-check bundle on a networked machine: the wheels the check needs beyond the GPU node's image,
# and the code, in one archive under 64 MiB (make gpu-bundle; experiments/gpu/README.md says how to use it).
#
#   bash experiments/gpu/bundle.sh [OUT]        # OUT: gpu-bundle (folder) and OUT.tar.gz
#
# The node: Python 3.12, x86_64 Linux, torch 2.11 (CUDA 13), lightning 2.6.6, transformers 5.17,
# peft, accelerate, sentence-transformers 6.0, pyarrow, numpy, pytest, and no network. What the check imports
# beyond that: hydra-core/omegaconf/antlr4 (the config tree: the preset part), datasets and its own
# dependencies (sentence-transformers' trainer, the peer part), deepspeed and its dependencies (the ZeRO-1/2
# wiring part). wandb, faiss, bm25s, openai and the MiniLM weights package are not imported on the check's
# path (tests/test_gpu_check.py) and do not travel.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-gpu-bundle}
PY=${PYTHON:-python3}
# the node's glibc takes manylinux_2_28 and older tags; pip matches each --platform literally, so name them all
PLATFORMS=(${PLATFORMS:-manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64})
LIMIT_MIB=64
# name==version as tested here; the rest as the node's own packages leave them (pure Python unless noted)
WHEELS=(
  hydra-core==1.3.8 omegaconf==2.3.1 antlr4-python3-runtime==4.9.3
  datasets==5.2.0 "dill<0.4.2" "multiprocess<0.70.20" xxhash pandas python-dateutil tzdata
  deepspeed==0.19.8 einops hjson msgpack ninja py-cpuinfo pydantic==2.14.4 pydantic-core==2.50.5 annotated-types
  typing-inspection
)
rm -rf "$OUT" "$OUT.tar.gz"
mkdir -p "$OUT/wheels"
for spec in "${WHEELS[@]}"; do
  # a wheel for CPython 3.12 on the node's platform; antlr4 4.9.3 has only a source release: built here
  if ! "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --abi cp312 "${PLATFORMS[@]/#/--platform=}" -d "$OUT/wheels" "$spec" 2>/dev/null; then
    "$PY" -m pip wheel --quiet --no-deps -w "$OUT/wheels" "$spec"
  fi
done
printf '%s\n' "${WHEELS[@]}" > "$OUT/requirements-node.txt"
git archive --format=tar.gz -o "$OUT/code.tar.gz" HEAD jobmatch conf experiments/__init__.py experiments/gpu \
  experiments/benchmarks/__init__.py experiments/benchmarks/common.py experiments/benchmarks/peaks.py \
  pyproject.toml setup.py Makefile
tar -czf "$OUT.tar.gz" -C "$(dirname "$OUT")" "$(basename "$OUT")"
bytes=$(stat -c %s "$OUT.tar.gz")
echo "wheels: $(du -sh "$OUT/wheels" | cut -f1) ($(ls "$OUT/wheels" | wc -l) files); code: $(du -h "$OUT/code.tar.gz" | cut -f1)"
echo "bundle: $OUT.tar.gz, $((bytes / 1024 / 1024)) MiB ($bytes bytes; limit $LIMIT_MIB MiB)"
if (( bytes > LIMIT_MIB * 1024 * 1024 )); then
  echo "error: $OUT.tar.gz is over $LIMIT_MIB MiB; fix: drop a part's wheels (deepspeed or datasets) from WHEELS" >&2
  exit 1
fi
