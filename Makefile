# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test bench lint venv dev proto clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==$$(grep -E '^pip==' constraints.txt | cut -d= -f3)"

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

venv: $(STAMP)
dev: $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/aico backend start

test: $(DEV_STAMP) browser
	$(BIN)/python -m pytest -n 2 -q

# Debian's chromium for the browser tests (Playwright drives /usr/bin/chromium). A no-op when it is
# there; installed with apt-get when missing and running as root (as CI does); else the tests skip.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make browser: installing chromium (apt-get)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	      || echo "make browser: could not install chromium: the browser tests will skip"; \
	  else \
	    echo "make browser: chromium is missing and this is not root: the browser tests will skip"; \
	  fi; \
	fi

bench: $(DEV_STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/retention.py
	$(BIN)/python bench/bridge.py
	$(BIN)/python bench/store_insert.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/etl.py

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

proto: $(DEV_STAMP)
	$(BIN)/python -m aico.schema.codegen

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
