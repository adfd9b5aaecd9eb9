# quantdesk: `make run` serves the embedded set-up, `make test` runs the whole suite.
SHELL := /bin/bash
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
QD := $(BIN)/quantdesk
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run run-offline test lint typecheck format bench bench-smoke install clean demo

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

# The environment is rebuilt only when the lock file or the project metadata change.
$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

install: $(VENV)/.synced

run: install
	@$(BIN)/python -m compileall -q src  # this machine may set PYTHONDONTWRITEBYTECODE
	$(QD) db upgrade
	$(QD) catalog load --if-empty
	$(QD) demo seed
	$(QD) serve --host $(HOST) --port $(PORT)

# The demo without internet: simulated market data (labelled source "sim") instead of the real
# keyless providers (Yahoo, CoinGecko), which `make run` uses by default.
run-offline: export QUANTDESK_PROVIDERS = sim
run-offline: run

lint: install
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy src
	$(BIN)/lint-imports  # the layering contracts of pyproject.toml

typecheck: install
	$(BIN)/mypy src

format: install
	$(BIN)/ruff format src tests bench migrations
	$(BIN)/ruff check --fix src tests bench migrations

test: install lint
	$(BIN)/pytest
	$(MAKE) --no-print-directory bench-smoke

# Every benchmark, each figure beside a same-run baseline and the ratio (minutes).
bench: install
	$(BIN)/python -m bench

# Each benchmark once at tiny sizes, so a broken one fails `make test` (seconds).
bench-smoke: install
	BENCH_SMOKE=1 $(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
