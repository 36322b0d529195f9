# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
# The first interpreter that really runs and is 3.11+ (a pyenv shim may exist for a version that is not active).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench loadtest clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (python3.11 or newer on PATH)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## run: install if needed, start mongod + redis + the API on http://127.0.0.1:8000 (Ctrl-C stops all)
run: $(STAMP)
	$(BIN)/watchlist-service dev

## test: install if needed, lint, type-check, then the whole suite against throwaway mongod and redis
test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests loadtests scripts
	$(BIN)/ruff format --check src tests loadtests scripts
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests loadtests scripts
	$(BIN)/ruff check --fix src tests loadtests scripts

## bench: ratios of our endpoints to a hello endpoint on the same server, in one run
bench: $(STAMP)
	$(BIN)/python -m loadtests.bench

## loadtest: Locust, headless, for LOAD_TEST_DURATION (60 s); fails above 0.1 % errors (see README)
loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run

## cluster: INSTANCES (2) API instances behind nginx on http://127.0.0.1:$(CLUSTER_PORT) (8080), on the dev
## stack's MongoDB and Redis; WORKERS uvicorn workers each (1); prints the URLs and a TOKEN; Ctrl-C stops all
.PHONY: cluster
INSTANCES ?= 2
CLUSTER_PORT ?= 8080
WORKERS ?= 1
cluster: $(STAMP)
	$(BIN)/python -m watchlist_service.devstack.cluster --instances $(INSTANCES) --port $(CLUSTER_PORT) --workers $(WORKERS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
