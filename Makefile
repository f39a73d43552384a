# newswire: every target sets itself up (a .venv with the project) on a machine with Python >= 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-unit lint format eval bench clean reset

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "newswire needs Python >= 3.11; set PYTHON=/path/to/python3.11")'
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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

reset: ## forget what `make run` stored (the embedded Redis's data under .newswire/)
	rm -rf .newswire
