# modelship: `make demo` runs the example pipeline end to end, `make test` runs
# everything CI runs. Both install what they need on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Any python3 3.10+ will do, the system one included: it only ever creates
# virtual environments, nothing is installed into it (PEP 668 forbids that on
# Debian 12 and Ubuntu 24.04, and a user's own Python is theirs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The bootstrap: a venv of its own that holds uv, which then makes $(VENV).
TOOLS_VENV := .tools/venv
UV := $(TOOLS_VENV)/bin/uv
# uv trusts the system's certificate store, as pip and git do: a company proxy
# or a package mirror signed by an in-house CA is trusted there, not in the
# certificates uv carries.
export UV_SYSTEM_CERTS ?= 1
VENV_EXTRAS ?= all,test
TOOLS := .tools/node_modules/.bin
# The bootstrap's packages come first (python3-venv: `python3 -m venv`), then
# what the tests use for real; chromium renders the HTML reports headless.
APT_PACKAGES := python3-venv git rsync shellcheck docker.io buildah podman debootstrap fuse-overlayfs uidmap prometheus prometheus-pushgateway docker-registry apache2-utils kubectl chromium
PYTEST_ARGS ?=
# Two workers: most of the suite's time is spent waiting on subprocesses
# (act, gitlab-ci-local, servers starting, image builds), so two share two
# cores well. Tests that share a costly state (a Docker Engine's images, one
# pipeline run) stay on one worker: tests/conftest.py groups them.
PYTEST_WORKERS ?= 2

.PHONY: help dev deps bootstrap venv tools generate lint typecheck static test test-slow test-fast demo demo-gitlab demo-clean bench clean

help:
	@echo "make demo         run the example ML pipeline end to end with act (GitHub Actions)"
	@echo "make demo-gitlab  the same pipeline with gitlab-ci-local (GitLab CI)"
	@echo "make demo-clean   remove the demo's containers if a demo was killed before it could"
	@echo "make test         lint, type-check, security checks and the whole test suite"
	@echo "make dev          install everything (system packages, .venv, node tools)"
	@echo "make bootstrap    .tools/venv with uv, and .venv made by it (the system python3 stays untouched)"
	@echo "make generate     regenerate actions/, gitlab-templates/ and action READMEs"
	@echo "make bench        run the benchmarks under benchmarks/"

dev: deps venv tools

# System packages the tests use for real: Buildah, Prometheus tools, kubectl...
deps:
	@missing=""; for pkg in $(APT_PACKAGES); do \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing \
	    || echo "warning: could not install:$$missing (the tests that need them will say so)"; \
	fi

# `python3 -m venv` needs python3-venv on Debian and Ubuntu (`make deps`).
$(UV):
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "error: $(PYTHON) cannot create virtual environments; run 'make deps' or 'sudo apt-get install python3-venv'" >&2; \
	  exit 2; }
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv

$(BIN)/python: | $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) venv --quiet --python $(PYTHON) $(VENV)

bootstrap: $(BIN)/python

# Byte code is compiled once after the installed packages change (the stamp
# holds a digest of site-packages' listing, taken after compiling: compiling
# adds a __pycache__ folder there): where
# PYTHONDONTWRITEBYTECODE is set (CI images often set it), every process would
# otherwise compile what it imports from source (`import mlflow`: 3.6 s of CPU
# instead of 1.2 s), and the suite starts hundreds of them.
BYTECODE_STAMP := $(VENV)/.bytecode
PACKAGES_DIGEST = ls $(VENV)/lib/python*/site-packages | sha256sum | cut -d' ' -f1
venv: $(BIN)/python | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -e '.[$(VENV_EXTRAS)]'
	@if [ "$$(cat $(BYTECODE_STAMP) 2>/dev/null)" != "$$($(PACKAGES_DIGEST))" ]; then \
	  echo "compiling the environment's byte code"; \
	  $(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null 2>&1; \
	  $(PACKAGES_DIGEST) > $(BYTECODE_STAMP); fi

# gitlab-ci-local's re2 dependency compiles natively: a few minutes, once.
# `npm ci` runs only when the lock file's content differs from the one the
# stamp records, never because a checkout gave the lock file a newer time:
# `npm ci` empties node_modules first, and that folder may be shared (a
# symlink) with other checkouts that are using it. An empty stamp was written
# by an earlier version of this rule after a successful install.
TOOLS_STAMP := .tools/node_modules/.installed
tools:
	@lock="$$(sha256sum .tools/package-lock.json | cut -d' ' -f1)"; \
	if [ ! -f $(TOOLS_STAMP) ] || { [ -s $(TOOLS_STAMP) ] && [ "$$(cat $(TOOLS_STAMP))" != "$$lock" ]; }; then \
	  echo "cd .tools && npm ci"; \
	  (cd .tools && npm ci --no-audit --no-fund --loglevel=error) && echo "$$lock" > $(TOOLS_STAMP); \
	fi

generate: venv
	$(BIN)/python -m modelship.dev.generate

lint:
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck:
	$(BIN)/mypy

# Security and schema checks of everything users run: actions, templates, workflows.
static:
	$(BIN)/python -m modelship.dev.generate --check
	$(BIN)/zizmor --offline --persona=pedantic action.yml actions/ $$(ls workflows-examples/github/*.yml 2>/dev/null)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions action.yml actions/*/action.yml
	@if ls workflows-examples/github/*.yml >/dev/null 2>&1; then \
	  $(BIN)/check-jsonschema --builtin-schema vendor.github-workflows workflows-examples/github/*.yml && \
	  $(BIN)/actionlint workflows-examples/github/*.yml; fi
	$(BIN)/python tests/tools/check_gitlab_templates.py gitlab-templates/*.yml $$(ls workflows-examples/gitlab/.gitlab-ci.yml 2>/dev/null)
	$(BIN)/check-jsonschema --builtin-schema vendor.circle-ci workflows-examples/circleci/config.yml

# Everything but the whole demo, on two workers: the example pipelines with
# each job in its own container, the Jenkins and CircleCI files, `modelship
# init`'s workflow under act and the suite image included.
# PYTEST_WORKERS=0 runs it in one process.
test: dev lint typecheck static
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope --durations=30 -m "not slow" $(PYTEST_ARGS)

# The run too long for every change: the whole demo (what make demo runs).
test-slow: dev
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope -m slow $(PYTEST_ARGS)

test-fast: lint typecheck
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope -m "not e2e" $(PYTEST_ARGS)

demo: dev
	$(BIN)/python workflows-examples/demo.py github

demo-gitlab: dev
	$(BIN)/python workflows-examples/demo.py gitlab

# The demo removes its containers and stops its registry itself; this is for a
# demo killed before it could (the containers are named <model>-<environment>).
demo-clean:
	-docker rm -f $(foreach env,staging production,$(foreach c,$(env) $(env)-candidate $(env)-previous,breast-cancer-$(c))) 2>/dev/null

bench: venv
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(TOOLS_VENV) .tools/node_modules .mypy_cache .ruff_cache .pytest_cache modelship-reports .modelship
