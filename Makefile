# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
# The first interpreter that really runs and is 3.11+ (a pyenv shim may exist for a version that is not active).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv from PATH when there is one; otherwise this pinned release from PyPI, in a private venv of its own.
UV_VERSION := 0.13.9
UV_HOME := .cache/uv
UV ?= $(or $(shell command -v uv),$(UV_HOME)/bin/uv)
export UV
# The generated client (clients/python/watchlist_client) is linted only in its hand-written layer.
SOURCES := src tools/src tests loadtests clients/python/watchlist_client/service.py

.PHONY: run test lint format bench loadtest lock cluster image client clean

$(UV_HOME)/bin/uv:
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (python3.11 or newer on PATH)"; exit 1; }
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

# Exactly what uv.lock pins (the service, the dev tools in tools/ and the dev group), nothing else: --frozen
# installs the lock as it is, and `make lint` fails when it no longer matches the pyproject files.
$(STAMP): uv.lock pyproject.toml tools/pyproject.toml clients/python/pyproject.toml | $(UV)
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (python3.11 or newer on PATH)"; exit 1; }
	$(UV) sync --frozen --python "$(PYTHON)"
	touch $(STAMP)

## run: install if needed, start mongod + redis + the fake TMDb + the API on http://127.0.0.1:8000 (Ctrl-C stops all)
run: $(STAMP)
	$(BIN)/watchlist-dev run

## test: install if needed, lint, type-check, then the whole suite against throwaway mongod and redis
test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(UV) lock --check
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format $(SOURCES)
	$(BIN)/ruff check --fix $(SOURCES)

## lock: rewrite uv.lock after a pyproject change. Plain `uv lock` keeps every pin that still satisfies the
## pyproject files, so a change moves only what it must; `make lock UPGRADE=1` moves everything to the newest
## allowed releases (uv lock --upgrade), for a deliberate upgrade in a change of its own.
lock: | $(UV)
	$(UV) lock $(if $(UPGRADE),--upgrade)

## client: regenerate the typed client clients/python/watchlist_client from the service's OpenAPI document
## (create_app's, offline: no server), keeping its hand-written service.py; commit the result with the change
## that moved the document (tests/unit/test_client_generation.py fails while the committed client is stale)
client: $(STAMP)
	$(BIN)/python -m watchlist_dev.client

## bench: ratios of our endpoints to a hello endpoint on the same server, in one run
bench: $(STAMP)
	$(BIN)/python -m loadtests.bench

## loadtest: Locust, headless, for LOAD_TEST_DURATION (60 s); fails above 0.1 % errors (see README)
loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run

## cluster: INSTANCES (2) API instances behind nginx on http://127.0.0.1:$(CLUSTER_PORT) (8080), on the dev
## stack's MongoDB and Redis; WORKERS uvicorn workers each (1); prints the URLs and a TOKEN; Ctrl-C stops all
INSTANCES ?= 2
CLUSTER_PORT ?= 8080
WORKERS ?= 1
cluster: $(STAMP)
	$(BIN)/watchlist-dev cluster --instances $(INSTANCES) --port $(CLUSTER_PORT) --workers $(WORKERS)

## image: build the Dockerfile with podman (Debian's package, installed when root) or docker; FROM a base made with
## debootstrap when python:3.11-slim-bookworm cannot be pulled; prints the build time and the image size
IMAGE_TAG ?= localhost/watchlist-service:dev
image: $(STAMP)
	$(BIN)/watchlist-dev image --tag $(IMAGE_TAG)

clean:
	rm -rf $(VENV) $(UV_HOME) .pytest_cache .mypy_cache .ruff_cache
