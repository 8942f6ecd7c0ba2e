# LearningHub: `make run` serves the app on the embedded defaults, `make lint` runs the static checks,
# `make test` runs the whole suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Django 6 needs Python 3.12+. Try the usual names first, then pyenv's installs; a name that
# exists but cannot run (a pyenv shim for a version not selected) is skipped.
PYTHON_CANDIDATES := python3.14 python3.13 python3.12 python3 $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3) $(wildcard /usr/local/bin/python3.1[2-9]) $(wildcard /usr/bin/python3.1[2-9])
BASE_PYTHON ?= $(shell for c in $(PYTHON_CANDIDATES); do \
	if "$$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then command -v "$$c" || echo "$$c"; break; fi; done)

.PHONY: install run test test-fast lint worker beat bench clean

$(VENV)/.installed: requirements.lock pyproject.toml
	@if [ -z "$(BASE_PYTHON)" ]; then echo "No Python 3.12+ found (tried: $(PYTHON_CANDIDATES)); set BASE_PYTHON=/path/to/python3.12" >&2; exit 1; fi
	@echo "Using $(BASE_PYTHON) ($$($(BASE_PYTHON) --version))"
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then rm -rf $(VENV); $(BASE_PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install --quiet uv==0.13.8
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $@

install: $(VENV)/.installed

# The MLflow tracking server the import tests start (tests/mlflow) lives in its own test-only
# virtualenv: mlflow's pins (Flask, gunicorn, numpy…) are not ours to follow.
VENV_MLFLOW := .venv-mlflow
MLFLOW_VERSION := 3.17.2
$(VENV_MLFLOW)/.installed: $(VENV)/.installed
	@if [ ! -x $(VENV_MLFLOW)/bin/python ]; then $(BASE_PYTHON) -m venv $(VENV_MLFLOW); fi
	$(VENV)/bin/uv pip install --quiet --python $(VENV_MLFLOW)/bin/python mlflow==$(MLFLOW_VERSION)
	touch $@

# The embedded default is a development setup: DEBUG on (dev secret key, static files from the app).
run: export DEBUG ?= 1
run: export PORT := $(PORT)
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# The suite's settings profile (learninghub/settings/test.py) needs no environment; DATABASE_URL
# and REDIS_URL, when set, still choose PostgreSQL and Redis (CI's second run).
TEST_SETTINGS := learninghub.settings.test

test: install $(VENV_MLFLOW)/.installed
	$(PY) manage.py collectstatic --noinput -v 0 --settings $(TEST_SETTINGS)
	$(PY) -m pytest $(PYTEST_ARGS)

# What CI checks before the tests: style (ruff), migrations in step with the models, an OpenAPI
# schema without warnings, and the import contracts (pyproject.toml [tool.importlinter]).
lint: export DJANGO_SETTINGS_MODULE = $(TEST_SETTINGS)
lint: install
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(VENV)/bin/lint-imports

worker: install
	$(VENV)/bin/celery -A learninghub worker --loglevel=info

beat: install
	$(VENV)/bin/celery -A learninghub beat --loglevel=info

# The engine and the dashboards; bench/lists.py, bench/load.py, bench/search.py, bench/repeats.py and
# bench/mlflow.py run on their own (README: Benchmarks).
bench: install
	$(PY) bench/metrics.py $(BENCH_ARGS)
	$(PY) bench/dashboards.py

clean:
	rm -rf $(VENV) $(VENV_MLFLOW) staticfiles db.sqlite3
