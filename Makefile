# Two commands matter: `make run` (try it) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test lint format bench worker beat browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The demo (and its worker and beat) run with DEBUG on: settings default to off, which wants a
# real SECRET_KEY and HTTPS.
run: install
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(PY) manage.py seed_demo
	DEBUG=$${DEBUG:-true} $(PY) manage.py runserver 127.0.0.1:8000

test: install browser
	$(VENV)/bin/pytest

# Style and types (settings read with DEBUG on, as the tests do).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) -m benchmarks

# Headless Chromium for the browser tests: Debian's package, installed when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || bash scripts/install-chromium.sh

worker: install
	DEBUG=$${DEBUG:-true} $(VENV)/bin/celery -A leadscoring worker -Q default,bulk --loglevel=info

beat: install
	DEBUG=$${DEBUG:-true} $(VENV)/bin/celery -A leadscoring beat --loglevel=info
