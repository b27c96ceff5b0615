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


# The venv's AWS SAM CLI, kept from calling home (no telemetry, no version check).
SAM := scripts/sam.sh
# `make build ARCH=x86_64` on hosts without rustup's aarch64-unknown-linux-gnu target.
ARCH ?= arm64

.PHONY: help venv dev test lint fmt build fuzz clean bench

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

dev: venv ## Run it all locally: engine :8000, demo data, API (cargo lambda watch) :9000, MCP gateway :9100
	scripts/dev.sh

test: venv ## Everything CI checks: fmt, clippy, build, tests, template lint, contract fuzzing
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo build --workspace
	cargo test --workspace
	cfn-lint template.yaml
	$(SAM) validate --lint
	scripts/contract-fuzz.sh

lint: venv ## fmt check, clippy, cfn-lint and sam validate, without building or running tests
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cfn-lint template.yaml
	$(SAM) validate --lint

fmt: ## Format all Rust code in place
	cargo fmt --all

# `sam build` into target/sam (samconfig.toml): for each function a release
# `cargo lambda build --bin NAME`, for arm64 as template.yaml says. That needs rustup's
# aarch64-unknown-linux-gnu target (cargo-lambda adds it when it is missing and rustup can
# download) and zig (from the venv). ARCH=x86_64 builds a copy of the template with x86_64
# written in instead, so the built template always names the architecture it was built for.
# `sam deploy` then deploys target/sam/template.yaml as it is.
build: venv ## sam build of the functions into target/sam (ARCH=x86_64 without the aarch64 target)
ifeq ($(ARCH),arm64)
	$(SAM) build
else ifeq ($(ARCH),x86_64)
	@mkdir -p target
	sed 's/^      - arm64$$/      - x86_64/' template.yaml >target/template-x86_64.yaml
	@grep -q '^      - x86_64$$' target/template-x86_64.yaml \
		|| { echo "template.yaml: no '- arm64' line under Globals Architectures" >&2; exit 1; }
	$(SAM) build --template-file target/template-x86_64.yaml --base-dir . --build-dir target/sam
else
	@echo "ARCH must be arm64 or x86_64, got $(ARCH)" >&2; exit 2
endif

fuzz: venv ## Contract fuzzing alone: schemathesis against the local stack (FUZZ_MAX_EXAMPLES=50)
	cargo build --workspace
	scripts/contract-fuzz.sh

# The harness builds the function zips and the hello-world baseline itself (release builds:
# minutes on a cold cache), then measures; BENCH_ARGS passes options, e.g. --profiles z,lto=thin.
# Package sizes are for arm64, what the template deploys, when the toolchain has that target:
# adding it is tried here (a rustup download) and, if that fails, sizes are for x86_64 and the
# summary says so.
bench: venv ## Benchmarks (release builds): target/bench/summary.json and a table of goals
	-rustup target add aarch64-unknown-linux-gnu
	cargo build --release -p sessions-bench
	target/release/sessions-bench $(BENCH_ARGS)

clean: ## Remove build output, the venv and local dev state
	cargo clean
	rm -rf $(VENV) .dev
