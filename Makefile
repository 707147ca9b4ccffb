# Two commands for a new user: `make run` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 3

.PHONY: run install migrate demo serve test lint typecheck bench ci clean

run: install migrate demo serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements/constraints.txt
	$(BIN)/pip install --quiet -c requirements/constraints.txt -e ".[dev,bench]"
	touch $@

# The monthly case report's PDF needs pango and the DejaVu fonts (apt, as root).
install: $(VENV)/.installed
	@scripts/ensure-fonts

migrate: install
	$(BIN)/supporthub migrate --no-input

demo: migrate
	$(BIN)/supporthub demo

serve: install
	$(BIN)/supporthub collectstatic --no-input --verbosity 0
	@echo "Support Hub on http://$(HOST):$(PORT)/  (demo logins in README.md)"
	@# scripts/serve runs `supporthub worker` beside gunicorn and stops it when gunicorn exits.
	@# The demo takes inbound mail's From on trust, said out loud (README: Inbound mail), unless
	@# the environment already chose how to trust it.
	@if [ -z "$$INBOUND_MAIL_AUTHSERV_ID$$INBOUND_MAIL_VERIFY_DKIM$$INBOUND_MAIL_TRUST_FROM" ]; then \
		echo "The demo trusts the From address of inbound mail (INBOUND_MAIL_TRUST_FROM=true)"; \
		export INBOUND_MAIL_TRUST_FROM=true; fi; \
	BIN=$(BIN) scripts/serve supporthub.wsgi --bind $(HOST):$(PORT) --workers $(WORKERS) \
		--access-logfile - --forwarded-allow-ips 127.0.0.1

# Browser tests drive Debian's chromium (scripts/ensure-chromium installs it); Playwright
# never downloads a browser.
test: install
	@scripts/ensure-chromium
	@scripts/ensure-dovecot
	@PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pytest -n 2 --dist loadfile; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure here"; exit 1; fi; \
	exit $$rc

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy src

bench: install
	$(BIN)/python benchmarks/run.py

ci:
	CI=true bash .ci/run

clean:
	rm -rf $(VENV) var
