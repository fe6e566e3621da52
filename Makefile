# Every target bootstraps .venv from nothing with python3 -m venv and pip.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
QUICK ?=
SUBJECT ?=

.PHONY: report test check lint lab clean-datasets notebooks patch

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name summary-perfkit --display-name "Python (summary-perfkit)"
	touch $(STAMP)

## report: the main job (QUICK=1 for CI-scale parameters, SUBJECT=NAME for another subject)
report: $(STAMP)
	$(PY) -m evaluation report $(if $(QUICK),--quick) $(if $(SUBJECT),--subject $(SUBJECT))

## test: lint, type-check, the test suite against a real PostgreSQL, and the notebooks through nbval;
## the slowest tests' durations are printed at the end
test: $(STAMP) lint
	$(PY) -m pytest tests notebooks -n auto --dist loadfile --no-loadscope-reorder --durations=15

## check: lint, type-check and the tests not marked slow: the loop while changing code
check: $(STAMP) lint
	$(PY) -m pytest tests -m "not slow" -q

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

## lab: JupyterLab on the notebooks, with the project's kernel
lab: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,lab]'
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

clean-datasets: $(STAMP)
	$(PY) -m evaluation datasets --drop

## notebooks: re-execute the notebooks in place (CI scale), keeping their outputs and figures for readers
notebooks: $(STAMP)
	$(PY) -m evaluation notebooks

## patch: regenerate patches/diff.patch from repository_before/ and repository_after/
patch: $(STAMP)
	$(PY) -m evaluation patch
