# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: run test test-clock bench soak lint check venv dev proto clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==$$(grep -E '^pip==' constraints.txt | cut -d= -f3)"

# `pip install aico-logging` alone is the logger library; the backend, the bridge and the analytics are
# extras, and make installs them all.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[all]'
	touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[all,dev]'
	touch $@

$(BENCH_STAMP): $(DEV_STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[all,dev,bench]'
	touch $@

venv: $(STAMP)
dev: $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/aico backend start

test: $(DEV_STAMP) browser
	$(BIN)/python -m pytest -n 2 -q

# The clock-sensitive part of the suite again, with the wall clock a year ahead and then a year behind, in
# the tests and in every process they start (tests/clockshift: an LD_PRELOAD shim; Debian's libfaketime
# 0.9.10 breaks Python 3.11's time.sleep). The tests marked `clock`: the unit tests of every part that
# computes with the calendar (retention, archives, analytics, time expressions, the dashboard) and the
# end-to-end tests that run those parts in a backend (retention, analytics, dashboard, tail -f, the clock
# stepped). Left out to keep CI short: tests that stamp records with the present time only to read them
# back by another key (delivery, transport, fuzzing, privacy, disk faults), which a shift cannot change
# (the whole suite passes shifted too: run `make test-clock CLOCK_TESTS=`).
CLOCK_SHIFT := $(VENV)/clockshift.so
CLOCK_TESTS := -m clock  # tests mark themselves: @pytest.mark.clock

$(CLOCK_SHIFT): tests/clockshift/clockshift.c
	$(CC) -shared -fPIC -O2 -o $@ $< -ldl

test-clock: $(DEV_STAMP) browser $(CLOCK_SHIFT)
	@for shift in 31536000 -31536000; do \
	  echo "make test-clock: the wall clock moved by $$shift s"; \
	  CLOCKSHIFT_SECONDS=$$shift LD_PRELOAD=$(abspath $(CLOCK_SHIFT)) \
	    $(BIN)/python -m pytest -n 2 -q -p no:cacheprovider $(CLOCK_TESTS) || exit 1; \
	done

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

bench: $(BENCH_STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/spool.py
	$(BIN)/python bench/retention.py
	$(BIN)/python bench/bridge.py
	$(BIN)/python bench/otlp.py
	$(BIN)/python bench/store_insert.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/etl.py
	$(BIN)/python bench/privacy.py
	$(BIN)/python bench/import_time.py
	$(BIN)/python bench/idle.py

# Not in CI: everything at once with faults on a schedule (bench/soak.py), MINUTES long; then the burst
# test with 1,000,000 records (make test runs it with 400,000), the producer's memory bound at README's figure.
MINUTES ?= 10
soak: $(DEV_STAMP)
	$(BIN)/python bench/soak.py --minutes $(MINUTES)
	AICO_BURST_RECORDS=1000000 $(BIN)/python -m pytest -q -n 0 tests/e2e/test_zero_loss.py -k burst

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# The fast tier while working: lint, types and the unit tests (no end-to-end test: those carry the
# e2e marker; `make test` runs everything), with the "check" hypothesis profile: a tenth of the examples
# of each property test (tests/conftest.py). Under a minute on two cores.
check: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q -m "not e2e" --hypothesis-profile=check tests/unit

proto: $(DEV_STAMP)
	$(BIN)/python -m aico.schema.codegen

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
