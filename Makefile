# pcnreg: set-up and everyday commands.
#
#   make demo    install everything, load the demo data, run the dev server on 127.0.0.1:5000
#   make test    install everything, run the test suite on SQLite and on PostgreSQL, side by side
#
# Other targets: venv, assets, db, bench, lint, wheel-check, clean, help.
# make test PYTEST_ARGS="tests/test_config.py -x"   passes arguments through to pytest.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first Python >= 3.11 found; override with `make PYTHON=/path/to/python3.11`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# --no-compile: pip would byte-compile every module of every package (~12 s of a fresh install);
# Python compiles the modules actually imported, once, when they are first imported.
PIP_FLAGS := --disable-pip-version-check --no-input --progress-bar off --no-compile
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: help venv assets db demo test bench lint wheel-check clean

help:
	@echo "make demo   install everything, load the demo data, serve on http://$(HOST):$(PORT)"
	@echo "make test   install everything, run the tests on SQLite and PostgreSQL, side by side"
	@echo "            (make test PYTEST_ARGS='tests/test_config.py -x' to narrow them)"
	@echo "make lint   ruff check (configured in pyproject.toml)"
	@echo "make wheel-check  build the wheel, install it elsewhere, run the demo from it"
	@echo "make venv | assets | db | bench | clean"

# --- Python environment --------------------------------------------------------------------

venv: $(STAMP)

# Re-installed only when pyproject.toml is newer than the stamp (or .venv is missing/broken).
$(STAMP): pyproject.toml
	@if ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
		test -n "$(PYTHON)" || { echo "make: python3 not found (need Python >= 3.11)" >&2; exit 1; }; \
		"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
			|| { echo "make: $(PYTHON) is older than 3.11; use make PYTHON=/path/to/python3.11" >&2; exit 1; }; \
		rm -rf $(VENV); \
		echo "creating $(VENV) with $$("$(PYTHON)" --version)"; \
		"$(PYTHON)" -m venv $(VENV) \
			|| { echo "make: '$(PYTHON) -m venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }; \
	fi
	$(BIN)/pip install $(PIP_FLAGS) -q -e ".[dev,postgresql]"
	@touch $@

# --- Front-end assets (nhsuk-frontend, served by the app itself) -----------------------------

assets: node_modules

# npm ci only when node_modules is missing or older than package-lock.json.
node_modules: package-lock.json package.json
	@command -v npm >/dev/null || { echo "make: npm not found (on Debian: apt-get install npm)" >&2; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

# --- Running ---------------------------------------------------------------------------------

db: venv
	$(BIN)/pcnreg db upgrade

# The task queue's worker runs beside the dev server (long work started from pages) and stops with it.
demo: venv assets db
	$(BIN)/pcnreg demo
	$(BIN)/pcnreg worker & worker=$$!; trap 'kill $$worker' EXIT; $(BIN)/pcnreg run --host $(HOST) --port $(PORT)

# SQLite and PostgreSQL (a throwaway cluster on 127.0.0.1:54329 from .ci/postgres-up) side by
# side, one per core: the SQLite run's output streams, the PostgreSQL run's is printed after it.
# Both runs always happen; the exit status is non-zero when either fails. The PostgreSQL run
# fuzzes each form and API operation with fewer examples (PCNREG_FUZZ_EXAMPLES): the input
# handling fuzzed is the same code on both databases; and it runs only the tests that use the
# database under test (PCNREG_TEST_DATABASE_ONLY, see tests/conftest.py): the others (the domain,
# the file parsers, the crash-safety tests on their own SQLite files) run the same code on both
# sides, so they run once, on the SQLite side, but for a few (SHARED_ON_POSTGRESQL in
# tests/conftest.py) that the SQLite run leaves to it (PCNREG_TEST_POSTGRESQL_ALONGSIDE, set only
# when PostgreSQL started), to even out the two sides' time. Its browser tests run last
# (PCNREG_TEST_BROWSER_LAST), the SQLite side's first, so that the two sides' Chromium work does not
# coincide. The browser tests (tests/browser) drive
# Debian's Chromium, which .ci/chromium-up installs when it is missing; without it they are
# skipped (and fail when CI=true). Screenshots go to test-artifacts/, from the SQLite run only
# (PCNREG_TEST_SCREENSHOTS=0 for the PostgreSQL run: the same pages).
PG_FUZZ_EXAMPLES ?= 12
# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE): pytest
# then keeps its rewritten test modules between runs instead of rewriting them each time (~20 s).
test: venv assets
	@unset PYTHONDONTWRITEBYTECODE; logs=$$(mktemp -d); trap 'rm -rf "$$logs"' EXIT; \
	bash .ci/chromium-up >/dev/null \
		|| echo "make test: no Chromium, so the browser tests will be skipped (see the messages above)" >&2; \
	if pg_url=$$(bash .ci/postgres-up); then pg_ok=1; else pg_ok=0; \
		echo "make test: could not start PostgreSQL (see the messages above)" >&2; fi; \
	start=$$SECONDS; \
	if [ $$pg_ok = 1 ]; then \
		( PCNREG_TEST_DATABASE_URL="$$pg_url" PCNREG_TEST_DATABASE_ONLY=1 PCNREG_TEST_BROWSER_LAST=1 PCNREG_TEST_SCREENSHOTS=0 PCNREG_FUZZ_EXAMPLES=$(PG_FUZZ_EXAMPLES) \
		  $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS) > "$$logs/pg" 2>&1; echo $$? > "$$logs/pg_rc" ) & \
		pg_pid=$$!; \
	fi; \
	echo "=== pytest on SQLite (PostgreSQL alongside: its output follows) ==="; \
	PCNREG_TEST_POSTGRESQL_ALONGSIDE=$$pg_ok env -u PCNREG_TEST_DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS) 2>&1 | tee "$$logs/sqlite"; \
	sqlite_rc=$${PIPESTATUS[0]}; \
	if [ $$pg_ok = 1 ]; then \
		wait $$pg_pid; pg_rc=$$(cat "$$logs/pg_rc"); \
		echo "=== pytest on PostgreSQL ($$pg_url) ==="; cat "$$logs/pg"; \
		pg_summary=$$(tail -n 1 "$$logs/pg" | sed 's/^=* *//; s/ *=*$$//'); \
	else pg_rc=1; pg_summary="not run: .ci/postgres-up failed"; fi; \
	echo; echo "=== summary ($$((SECONDS - start)) s for both) ==="; \
	echo "SQLite     (exit $$sqlite_rc): $$(tail -n 1 "$$logs/sqlite" | sed 's/^=* *//; s/ *=*$$//')"; \
	echo "PostgreSQL (exit $$pg_rc): $$pg_summary"; \
	[ $$sqlite_rc = 0 ] && [ $$pg_rc = 0 ]

bench: venv
	$(BIN)/python -m benchmarks
	$(BIN)/python -c "import gunicorn" 2>/dev/null || $(BIN)/pip install $(PIP_FLAGS) -q "gunicorn>=21"
	$(BIN)/python -m benchmarks.load

lint: venv
	$(BIN)/ruff check .

# Builds the wheel from a copy of the checkout, installs it into a folder of its own and, from
# outside the repository, runs `pcnreg db upgrade`, `pcnreg demo` and serves pages and assets.
wheel-check: venv assets
	$(BIN)/pytest -p no:cacheprovider -m wheel tests/test_wheel.py

# Removes what `make` installs, the test artefacts and the throwaway PostgreSQL test cluster; keeps instance/
# (the secret key and the local database).
clean:
	-bash .ci/postgres-up --purge
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis build dist *.egg-info test-artifacts
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
