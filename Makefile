# One-word targets. Each creates venv/ on first use and reinstalls when a requirements file changes.
PYTHON ?= python3
VENV   := venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The functions' bundled requirements, installed for Lambda into .build/ (network needed once);
# the program, the tests and the local cloud then find them cached.
BUNDLED := .build/.installed
FUNCTION_REQUIREMENTS := $(wildcard functions/*/requirements.txt)

.PHONY: install browser test test-fast lint types check up bench loadtest deploy preview destroy clean

install: $(STAMP) $(BUNDLED)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing requirements into $(VENV)/ ..."
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(BUNDLED): $(STAMP) $(FUNCTION_REQUIREMENTS) infra/packaging.py
	@$(PY) -c 'from infra.packaging import main; raise SystemExit(main())'
	@touch $@

# The status page's browser test (tests/local/test_status_browser.py) drives Debian's Chromium
# and ChromeDriver. A no-op when both are there; else installed with apt-get where this runs as
# root (about a minute, once). Where that cannot be done the test is skipped and says why.
CHROMIUM_LOG := .local/chromium-install.log
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium and chromium-driver for the browser test ..."; \
		mkdir -p $(dir $(CHROMIUM_LOG)); \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			chromium chromium-driver; } >$(CHROMIUM_LOG) 2>&1 \
		|| echo "could not install them (see $(CHROMIUM_LOG)): the browser test is skipped"; \
	else \
		echo "no chromium, and no apt-get as root to install it: the browser test is skipped"; \
	fi

# Bytecode caches on, even where the environment turns them off (PYTHONDONTWRITEBYTECODE): a run
# starts about a hundred interpreters that import the same modules (3-4 s of CPU a run).
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest

test: $(STAMP) $(BUNDLED) browser
	$(PYTEST) -q

# The edit loop: the program under mocks, the handlers against moto, the policy pack; nothing
# that starts a local cloud or pip (tests marked `pip`). `make test` runs everything (CI runs it).
test-fast: $(STAMP)
	$(PYTEST) -q -m "not pip" tests/infra tests/functions tests/policy

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

up: $(STAMP) $(BUNDLED)
	$(PY) -m local up --stack dev

bench: $(STAMP) $(BUNDLED)
	$(PY) -m bench

# Every accepted message processed at least once, a duplicate only after a redelivery (a higher
# receive count), poison dead-lettered: README.md, "Load test".
loadtest: $(STAMP) $(BUNDLED)
	$(PY) -m bench.load --requests 1000 --concurrency 50

# The real AWS path. Each needs the Pulumi CLI and AWS credentials; STACK picks the stack.
STACK ?= dev
PULUMI := pulumi
NEED_PULUMI = @command -v $(PULUMI) >/dev/null 2>&1 || { \
	echo "error: the Pulumi CLI is not installed (needed for '$@')."; \
	echo "Install it from https://www.pulumi.com/docs/install/ (e.g. curl -fsSL https://get.pulumi.com | sh),"; \
	echo "then run 'pulumi login' and 'pulumi stack init $(STACK)'. See README, 'Deploying to AWS'."; \
	exit 2; }

preview:
	$(NEED_PULUMI)
	$(PULUMI) preview --stack $(STACK)

deploy:
	$(NEED_PULUMI)
	$(PULUMI) up --stack $(STACK)

destroy:
	$(NEED_PULUMI)
	$(PULUMI) destroy --stack $(STACK)

clean:
	rm -rf $(VENV) .build .local .pytest_cache .mypy_cache .ruff_cache
