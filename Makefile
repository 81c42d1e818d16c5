# jobmatch — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The torch wheel that lies on this machine's disk (CPU build); other versions pull CUDA builds.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lint format data train curriculum stage2 reproduce report bench gpu-check gpu-check-tiny gpu-bundle clean

help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

# uv installs the same packages as pip in about half the time (experiments/benchmarks, "Install"); where uv
# does not install, pip does. uv does not read pip's configuration: PIP_FIND_LINKS (a folder of wheels on disk,
# e.g. the torch wheel) is passed on. Bytecode is compiled at install, as pip does.
$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	set -e; \
	if $(PY) -m pip install --quiet "uv>=0.13" 2>/dev/null && $(PY) -m uv --version >/dev/null 2>&1; then \
	  links=""; for d in $${PIP_FIND_LINKS:-}; do links="$$links --find-links $$d"; done; \
	  inst="$(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) $$links"; \
	else \
	  inst="$(PY) -m pip install --quiet"; \
	fi; \
	$(PY) -c "import torch" 2>/dev/null || $$inst "$(TORCH_SPEC)"; \
	$$inst -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv with the package and its dev extras

demo: install ## The main job: the whole method on the embedded default, CPU, offline (ARGS="..." overrides)
	$(PY) -m jobmatch.pipeline experiment=demo $(ARGS)

test: install ## Run every test (fast ones first, then the slow ones)
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

test-fast: install ## Run the fast tests only
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: install ## ruff check
	$(PY) -m ruff check jobmatch tests experiments

format: install ## ruff format + fix imports
	$(PY) -m ruff check --fix jobmatch tests experiments
	$(PY) -m ruff format jobmatch tests experiments

data: install ## Generate the synthetic job markets (synthetic_small and synthetic) into outputs/data
	$(PY) -m jobmatch.data.synthetic --preset synthetic_small --out outputs/data/synthetic_small-seed0
	$(PY) -m jobmatch.data.synthetic --preset synthetic --out outputs/data/synthetic-seed0

train: install ## Stage 1 with the pretrained MiniLM on data=synthetic_small, bf16 where the CPU has it (ARGS="..." overrides)
	$(PY) -m jobmatch.train data=synthetic_small 'trainer.precision="$${fast_bf16:$${trainer.accelerator},bf16-mixed,32-true}"' 'eval.bf16="$${fast_bf16:$${trainer.accelerator},true,false}"' $(ARGS)

curriculum: install ## The stage-1 curriculum experiment (incremental vs combined mining rounds)
	bash experiments/curriculum/run.sh $(ARGS)

stage2: install ## Stage-2 comparison (RankPO sigmoid/hinge, SimRankPO, SFT) from a stage-1 checkpoint (STAGE1=...)
	bash experiments/rankpo/run.sh $(ARGS)

reproduce: install ## The paper's analyses, 3 seeds: curriculum (test + OOD), then stage-2 methods x lr x seed (JOBS=2 runs two at a time; experiments/reproduce)
	bash experiments/reproduce/run.sh

report: install ## Table and figures from a sweep's runs (RUNS=dir-or-glob)
	$(PY) -m jobmatch.report $(or $(RUNS),outputs/multirun)

bench: install ## Benchmarks vs peers (needs pip install -e .[bench]) -> experiments/benchmarks/results.{json,md} (ARGS="--quick" ...)
	$(PY) -m experiments.benchmarks $(ARGS)

# The GPU check runs where no .venv exists (the GPU node: the image's Python plus the bundle's wheels).
CHECK_PY = $(if $(wildcard $(PY)),$(PY),$(PYTHON))

gpu-check: ## The GPU check on one GPU, under 8 min -> experiments/gpu/results/{results.json,table.md} (experiments/gpu/README.md)
	PYTHONPATH=. timeout 540 $(CHECK_PY) -m experiments.gpu.check --out experiments/gpu/results $(ARGS)

gpu-check-tiny: ## The same check on CPU with tiny shapes (what CI runs) -> outputs/gpu-check-tiny
	PYTHONPATH=. $(CHECK_PY) -m experiments.gpu.check --tiny --out outputs/gpu-check-tiny $(ARGS)

gpu-bundle: ## On a networked machine: wheels + code for the air-gapped GPU node -> gpu-bundle.tar.gz (< 64 MiB)
	PYTHON=$(CHECK_PY) bash experiments/gpu/bundle.sh gpu-bundle

clean: ## Remove outputs and caches (keeps .venv)
	rm -rf outputs multirun .pytest_cache .ruff_cache
