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

# Deploys a throw-away stack to the AWS account of your credentials, probes it, destroys it
# (README, "Acceptance test on AWS"). In-process (-n 0) so Ctrl-C and SIGTERM reach its handler.
.PHONY: acceptance
acceptance: $(STAMP)
	ASYNC_WEBHOOK_ACCEPTANCE=1 $(PY) -m pytest tests/acceptance/test_acceptance.py -n 0 -s -rs --timeout=0

up: $(STAMP)
	$(PY) -m local up --stack dev

bench: $(STAMP)
	$(PY) -m bench

loadtest: $(STAMP)
	$(PY) -m bench.load --requests 1000 --concurrency 50

clean:
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
