# Developer entry points for the Sessions API. `make help` lists them.
#
# Python-packaged tools (cargo-lambda with zig, cfn-lint) live in a project
# virtualenv, .venv, pinned in requirements-dev.txt, so nothing is installed
# globally and CI builds the same tools from the same file.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed

# Every recipe (and everything it starts, e.g. scripts/dev.sh) finds the venv's
# cargo-lambda and cfn-lint first; `cargo lambda` resolves to .venv/bin/cargo-lambda.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Where tests that drive `cargo lambda` find it without searching PATH.
export CARGO_LAMBDA := $(CURDIR)/$(VENV)/bin/cargo-lambda

FUNCTIONS := list-sessions get-session revoke-sessions revoke-session
FUNCTION_PACKAGES := $(addprefix -p ,$(FUNCTIONS))

.PHONY: help venv dev test lint fmt build clean

help: ## Show this list
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "} {printf "  make %-8s %s\n", $$1, $$2}'

venv: $(VENV_STAMP) ## Create .venv with the pinned Python-packaged tools (fast when up to date)

# Rebuilt only when the pins change (or the venv was deleted). The venv is made
# in place, then filled; the stamp is written last so a failed install retries.
$(VENV_STAMP): requirements-dev.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check --quiet \
		--requirement requirements-dev.txt
	@touch $@

dev: venv ## Run the API locally: engine on :8000, seeded demo data, cargo lambda watch on :9000
	scripts/dev.sh

test: venv ## Everything CI checks: fmt, clippy, build, tests, template lint
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo build --workspace
	cargo test --workspace
	cfn-lint template.yaml

lint: venv ## fmt check, clippy and cfn-lint, without building or running tests
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cfn-lint template.yaml

fmt: ## Format all Rust code in place
	cargo fmt --all

build: venv ## Release build of the Lambda functions for arm64 (target/lambda/<name>/bootstrap)
	cargo lambda build --release --arm64 $(FUNCTION_PACKAGES)

clean: ## Remove build output, the venv and local dev state
	cargo clean
	rm -rf $(VENV) .dev
