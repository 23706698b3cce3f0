# The two commands a newcomer needs: `make run` and `make test`. Everything is installed from here.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
MACHINE_PG ?= postgresql://postgres@127.0.0.1:5432/test
export DO_NOT_TRACK := 1
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: install run test test-embedded test-machine-pg bench lint clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	$(VENV)/bin/dbt parse --project-dir dbt_project --profiles-dir dbt_project --quiet >/dev/null 2>&1 || true
	touch $@

install: $(VENV)/.installed

## Embedded PostgreSQL, migrations, demo tenants and files, SFTP on :2222, Dagster UI on :3000.
run: install
	$(VENV)/bin/synclinqs dev

## The whole suite on the embedded PostgreSQL, then the integration and end-to-end tests again on the
## machine's PostgreSQL when one answers at 127.0.0.1:5432 (under CI=true it must answer).
test: install lint test-embedded test-machine-pg

test-embedded:
	$(PY) -m pytest -q -p no:cacheprovider

test-machine-pg:
	@if $(PY) -c "import psycopg; psycopg.connect('$(MACHINE_PG)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== integration and e2e tests against the machine's PostgreSQL ($(MACHINE_PG))"; \
		SYNCLINQS_TEST_DATABASE_URL='$(MACHINE_PG)' $(PY) -m pytest -q -p no:cacheprovider tests/integration tests/e2e; \
	elif [ -n "$$CI" ]; then \
		echo "== CI: no PostgreSQL answers at $(MACHINE_PG); CI runs the integration tests on both servers"; \
		exit 1; \
	else \
		echo "== no PostgreSQL answers at $(MACHINE_PG): integration tests ran on the embedded server only"; \
	fi

## Benchmarks: rows per second and ratios against in-process baselines.
bench: install
	$(PY) -m benchmarks

## ruff (lint and format), mypy --strict on the domain code, the JSON Schemas in step with the spec models.
lint: install
	$(VENV)/bin/ruff check synclinqs_pipelines tests benchmarks
	$(VENV)/bin/ruff format --check synclinqs_pipelines tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/synclinqs mapping schema --check

clean:
	rm -rf .synclinqs .dagster_home dbt_project/target dbt_project/logs
