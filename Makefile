# Two commands a newcomer runs: `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DEVSTAMP:= $(VENV)/.installed-dev
PYTEST_ARGS ?=

.PHONY: demo test check lint typecheck test-slow bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

demo: $(STAMP)
	$(BIN)/carrierguard demo --db sqlite:///./demo.db --reset

LINTED  := $(wildcard src tests bench)

lint: $(DEVSTAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(DEVSTAMP)
	$(BIN)/mypy

check: lint typecheck

test: check
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(DEVSTAMP)
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) demo.db demo.db-* carrierguard.key .pytest_cache .mypy_cache .ruff_cache
