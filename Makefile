# The two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
WEB_ADDR ?= 127.0.0.1:8000
export WEB_ADDR

.PHONY: install run test lint format migrate seed clean help

help:
	@echo "make run   - set up and run the whole platform with demo data"
	@echo "make test  - set up and run ruff and the whole test suite"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "smsworks needs Python >= 3.11 (python3.11, python3.12 or python3.13 on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

.env:
	cp .env.example .env

migrate: install .env
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	@echo
	@echo "smsworks is starting:"
	@echo "  web:       http://$(WEB_ADDR)/"
	@echo "  simulator: http://127.0.0.1:9000/phone  (virtual phone: text the platform)"
	@echo "  (Ctrl-C stops web, worker and beat together)"
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf var/broker var/test.sqlite3* .pytest_cache
