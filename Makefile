# Every target sets up what it needs: the project's virtual environment in
# .venv (reinstalled when pyproject.toml changes) and, for Meltano targets,
# the plugins in .meltano (reinstalled when meltano.yml changes).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

# Python 3.10 or newer that creates the virtual environment.
PYTHON ?= python3
VENV := .venv
VENV_BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
MELTANO_STAMP := .meltano/.installed
# Airflow for the DAGs in orchestrate/dags, apart from .venv so that its
# pinned dependencies never change the versions the connectors run with.
AIRFLOW_VENV := .airflow-venv
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
AIRFLOW_REQUIREMENTS := orchestrate/requirements-airflow.txt
AIRFLOW_CONSTRAINTS := orchestrate/airflow-constraints.txt

# Extra pytest arguments, e.g. make test PYTEST_ARGS='-m "not slow"'.
PYTEST_ARGS ?=
# Extra benchmark arguments, e.g. make bench BENCH_ARGS='--full --profile profiles'.
BENCH_ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml
	if [ ! -x $(VENV_BIN)/python ]; then \
	    $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
	        || { echo "make: $(PYTHON) is missing or older than Python 3.10; run make PYTHON=python3.X" >&2; exit 1; }; \
	    $(PYTHON) -m venv $(VENV); \
	fi
	$(VENV_BIN)/python -m pip install --quiet --editable '.[test,bench]'
	touch $@

$(MELTANO_STAMP): $(VENV_STAMP) meltano.yml
	$(VENV_BIN)/meltano install
	touch $@

$(AIRFLOW_STAMP): $(AIRFLOW_REQUIREMENTS) $(AIRFLOW_CONSTRAINTS)
	if [ ! -x $(AIRFLOW_VENV)/bin/python ]; then \
	    $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
	        || { echo "make: $(PYTHON) is missing or older than Python 3.10; run make PYTHON=python3.X" >&2; exit 1; }; \
	    $(PYTHON) -m venv $(AIRFLOW_VENV); \
	fi
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet -r $(AIRFLOW_REQUIREMENTS) -c $(AIRFLOW_CONSTRAINTS)
	touch $@

.PHONY: venv
venv: $(VENV_STAMP) ## Create .venv with the connectors and test tools

.PHONY: meltano-install
meltano-install: $(MELTANO_STAMP) ## Install the Meltano plugins of meltano.yml into .meltano

.PHONY: airflow-venv
airflow-venv: $(AIRFLOW_STAMP) ## Create .airflow-venv with Airflow 3 for the DAGs in orchestrate/dags

.PHONY: demo
demo: $(MELTANO_STAMP) ## Sandbox -> Meltano -> DuckDB (full, then incremental), then a CSV -> Meltano -> sandbox
	$(VENV_BIN)/python scripts/demo.py

.PHONY: test
test: $(VENV_STAMP) ## Run the test suite; pytest's exit status 5 (no tests ran) fails too
	status=0; \
	$(VENV_BIN)/python -m pytest $(PYTEST_ARGS) || status=$$?; \
	if [ "$$status" -eq 5 ]; then echo "make test: pytest ran no tests" >&2; fi; \
	exit "$$status"

.PHONY: bench
bench: $(VENV_STAMP) ## Run every benchmark against the sandbox (about 8 minutes)
	$(VENV_BIN)/python -m benchmarks $(BENCH_ARGS)
	$(VENV_BIN)/python -m benchmarks.latency
	$(VENV_BIN)/python -m benchmarks.fingerprints

.PHONY: clean
clean: ## Remove the demo's files and the Meltano plugins (keeps .venv)
	rm -rf .demo .meltano
