# One-word targets. Each creates venv/ on first use and reinstalls when a requirements file changes.
PYTHON ?= python3
VENV   := venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The functions' bundled requirements, installed for Lambda into .build/ (network needed once);
# the program, the tests and the local cloud then find them cached.
BUNDLED := .build/.installed
FUNCTION_REQUIREMENTS := $(wildcard functions/*/requirements.txt)

.PHONY: install test lint types check up bench loadtest clean

install: $(STAMP) $(BUNDLED)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing requirements into $(VENV)/ ..."
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(BUNDLED): $(STAMP) $(FUNCTION_REQUIREMENTS) infra/packaging.py
	@$(PY) -c 'from infra.packaging import main; raise SystemExit(main())'
	@touch $@

test: $(STAMP) $(BUNDLED)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

types: $(STAMP)
	$(PY) -m mypy

check: lint test

up: $(STAMP) $(BUNDLED)
	$(PY) -m local up --stack dev

bench: $(STAMP) $(BUNDLED)
	$(PY) -m bench

loadtest: $(STAMP) $(BUNDLED)
	$(PY) -m bench.load --requests 1000 --concurrency 50

clean:
	rm -rf $(VENV) .build .local .pytest_cache .mypy_cache .ruff_cache
