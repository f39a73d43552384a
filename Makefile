# newswire: every target sets itself up (a .venv with the project) on a machine with Python >= 3.11.
SHELL := /bin/bash
# The first interpreter that really runs and is >= 3.11 (a pyenv shim may exist without its version).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-unit lint format eval bench chaos clean reset

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "newswire needs Python >= 3.11 (none found); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its dev tools

run: $(STAMP) ## the whole stack (embedded Redis unless NEWSWIRE_REDIS_URL is set) and the sample wire
	$(BIN)/newswire up --demo

test: $(STAMP) ## every test layer: unit, service, integration (starts its own Redis)
	$(BIN)/python -m pytest

test-unit: $(STAMP)
	$(BIN)/python -m pytest -m "unit or service"

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

eval: $(STAMP) ## quality against ../shared/data (when present); writes EVAL.md
	$(BIN)/python -m evaluation

bench: $(STAMP) ## throughput, latency and dedup up to 1,000,000 indexed on a private Redis; writes BENCHMARKS.md and docs/bench-latency.png (~15-17 min on 2 cores)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench --million

chaos: $(STAMP) ## fault suite: kill -9, Redis outages, SIGSTOP, same story, poison, burst (minutes)
	$(BIN)/python -m chaos

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

reset: ## forget what `make run` stored (the embedded Redis's data under .newswire/)
	rm -rf .newswire
