# Every target bootstraps .venv from nothing with python3 -m venv and pip.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
QUICK ?=

.PHONY: report test lint lab clean-datasets

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## report: the main job (QUICK=1 for CI-scale parameters)
report: $(STAMP)
	$(PY) -m evaluation report $(if $(QUICK),--quick)

## test: lint, type-check and the whole test suite against a real PostgreSQL
test: $(STAMP) lint
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

lab: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,lab]'
	$(VENV)/bin/jupyter lab notebooks/

clean-datasets: $(STAMP)
	$(PY) -m evaluation datasets --drop
