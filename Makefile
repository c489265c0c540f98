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

.PHONY: install run test lint format migrate seed clean help drills bench

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
	@echo "  API docs:  http://$(WEB_ADDR)/api/v1/docs/  (keys: Admin > Integrations)"
	@echo "  SMTP:      127.0.0.1:2525  (email-to-SMS: mail <number>@sms.localhost)"
	@echo "  (Ctrl-C stops web, workers, beat, simulator and SMTP together)"
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

# Fault drills at full size (each fault on its own, 50,000 messages; DRILL_MESSAGES=...
# overrides). `make test` runs the short drill. See docs/drills.md.
drills: install
	SMSWORKS_DRILLS=full $(BIN)/python -m pytest tests/drills -m drill_full -p no:randomly $(PYTEST_ARGS)

# Every benchmark under bench/ at its default size, then bench/REPORT.md
# (BENCH_ARGS=--quick for smaller sizes, BENCH_ARGS="--only dispatch receipts").
# wrk is bench/receipts.py's load generator (C: a Python client's own CPU would come
# off the server's share of the two cores); without it, that bench uses aiohttp.
bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1; } || \
		echo "wrk is not installed: bench/receipts.py will use its aiohttp client"
	$(BIN)/python bench/report.py $(BENCH_ARGS)

clean:
	rm -rf var/broker var/test.sqlite3* .pytest_cache
