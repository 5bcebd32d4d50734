# Relay — run `make help` for the list of targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Serving needs only the runtime dependencies; `make install` (and so `make test`) adds the tools.
RUN_STAMP := $(VENV)/.runtime-stamp
# The PostgreSQL the suite also runs against (database `test`, trust auth).
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=
# The suite runs on both cores (pytest-xdist); PYTEST_XDIST= runs it in one process.
PYTEST_XDIST ?= -n 2

.DEFAULT_GOAL := help
.PHONY: help install install-run translations install-browser install-bench run worker test test-sqlite test-postgres test-fault lint format migrate migration bench bench-scale bench-pgpush bench-catalog bench-console bench-ops bench-terminal bench-profile demo clean

help: ## Show this list
	@grep -hE '^[a-z][a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(RUN_STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e .
	@touch $(RUN_STAMP)

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP) $(RUN_STAMP)

install: $(STAMP) translations ## Create .venv and install the relay with its test tools

translations: $(STAMP) ## Compile every message catalog (relay/translations/*/LC_MESSAGES/*.po, all domains)
	@for po in relay/translations/*/LC_MESSAGES/*.po; do \
		$(BIN)/pybabel compile --use-fuzzy -i "$$po" -o "$${po%.po}.mo" || exit 1; \
	done

install-browser: ## Debian's Chromium for the browser tests (Playwright launches it by path)
	@test -x /usr/bin/chromium || { echo "Chromium is not installed: installing Debian's package"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

install-run: $(RUN_STAMP) ## Create .venv and install the relay's runtime dependencies only

run: install-run ## Serve the relay on SQLite at http://127.0.0.1:8000 (RELAY_* variables apply)
	$(BIN)/relay db upgrade
	$(BIN)/relay serve

worker: install-run ## Run the delivery and maintenance worker
	$(BIN)/relay worker

migrate: install-run ## Apply database migrations (relay db upgrade)
	$(BIN)/relay db upgrade

migration: install ## Autogenerate a migration from the models: make migration m="what changed"
	$(BIN)/relay db migrate -m "$(m)"

lint: install ## ruff (lint and format check), mypy, and the layer contracts (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install-browser lint test-sqlite test-postgres ## Lint, then the whole suite on SQLite and on PostgreSQL, with coverage
	$(BIN)/coverage report

test-sqlite: install ## The suite on SQLite
	$(BIN)/pytest $(PYTEST_XDIST) --cov=relay --cov-report= $(PYTEST_ARGS)

test-postgres: install ## The suite on PostgreSQL (PG_TEST_URL); unreachable is a failure under CI=1
	@if $(BIN)/python -m tests.pg_reachable "$(PG_TEST_URL)"; then \
		RELAY_TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest $(PYTEST_XDIST) --cov=relay --cov-append --cov-report= $(PYTEST_ARGS); \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL at $(PG_TEST_URL) is unreachable: failing (CI is set)"; exit 1; \
	else \
		echo "WARNING: PostgreSQL at $(PG_TEST_URL) is unreachable: the PostgreSQL run was SKIPPED"; \
	fi

test-fault: install ## Only the fault tests (kill -9, database restarts, racing terminals), both databases
	$(BIN)/pytest -m fault $(PYTEST_ARGS)
	RELAY_TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest -m fault $(PYTEST_ARGS)

install-bench: install ## The benchmark tools: wrk (Debian package) and the bench extra
	@command -v wrk >/dev/null || { echo "wrk is not installed: installing Debian's package"; \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y wrk; }
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,bench]'

bench: install-bench ## Hot-path requests and the full cycle, relay vs bare stack, SQLite and PostgreSQL
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-scale: install-bench ## Inbox, claim and push latency with 10^3..10^6 queued documents, and EXPLAIN
	$(BIN)/python -m bench.scale $(BENCH_ARGS)

bench-catalog: install ## Catalogs: 10^6 products loaded in packets, deltas at 10^4 vs 10^6, barcode p99
	$(BIN)/python -m bench.catalog $(BENCH_ARGS)
bench-pgpush: install-bench ## PostgreSQL: five push runs in a row on one database, with what grows between them
	$(BIN)/python -m bench.pgpush $(BENCH_ARGS)

bench-console: install-bench ## The admin console's overview and document list at 10^4..10^6 queued documents
	$(BIN)/python -m bench.console $(BENCH_ARGS)
bench-ops: install-bench ## What /metrics' gauges, a backup and a purge cost at 10^3..10^5 documents
	$(BIN)/python -m bench.ops $(BENCH_ARGS)

bench-profile: install-bench ## Profile the hot-path requests with pyinstrument (bench/out/profile)
	$(BIN)/python -m bench.profile $(BENCH_ARGS)

bench-terminal: install ## The terminal web app in Chromium: first-load bytes, scan feedback with a 500-line document
	$(BIN)/python -m bench.terminal $(BENCH_ARGS)

demo: install ## A one-minute tour: a relay on SQLite, two terminals, push, complete, pull, ack
	$(BIN)/python -m relay.client.tools.demo

clean: ## Remove the virtualenv, caches and the local SQLite database
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov instance
