# One-word targets. Each creates venv/ on first use and reinstalls when a requirements file changes.
PYTHON ?= python3
VENV   := venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint types check up bench loadtest clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing requirements into $(VENV)/ ..."
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

types: $(STAMP)
	$(PY) -m mypy

check: lint test

up: $(STAMP)
	$(PY) -m local up --stack dev

bench: $(STAMP)
	$(PY) -m bench

# Every accepted message processed at least once, a duplicate only after a redelivery (a higher
# receive count), poison dead-lettered: README.md, "Load test".
loadtest: $(STAMP)
	$(PY) -m bench.load --requests 1000 --concurrency 50

clean:
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
