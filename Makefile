# Two commands on a fresh machine: `make demo` and `make test`. Both install what they
# need (idempotently); slow builds are cached outside the checkout (see toolchain/).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_SCALE ?= all
LEGACY_DUMP ?=
# This checkout's bin directory: pulumi, pulumi-language-python and pulumi-resource-postgresql
# (each real, or the stand-in; see toolchain/README.md).
TOOLBIN = $(shell bash toolchain/bootstrap.sh --bin-dir)
RUN = PATH="$(TOOLBIN):$(CURDIR)/$(VENV)/bin:$$PATH" PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

.PHONY: venv postgres toolchain test demo bench lint

venv: $(STAMP)
$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

postgres:
	@bash toolchain/ensure-postgres.sh

toolchain: venv
	@bash toolchain/bootstrap.sh

test: venv postgres toolchain
	$(RUN) $(PY) -m pytest

# The demo runs the README walkthrough's steps 0-1 as typed (the Pulumi CLI, data_copy) and
# prints them and the next ones; LEGACY_DUMP rehearses in a stack of its own (demo/rehearsal.py).
demo: venv postgres toolchain
	$(RUN) $(PY) -m demo $(if $(LEGACY_DUMP),--legacy-dump "$(LEGACY_DUMP)")

bench: venv postgres
	$(RUN) $(PY) -m bench --scale $(BENCH_SCALE)

# ruff, the import layers (pyproject.toml: tool.importlinter) and the type checker (tool.mypy)
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
