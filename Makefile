# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.12 || command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench loadtest clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
