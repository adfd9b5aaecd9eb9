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

.PHONY: run run-offline test lint typecheck format bench bench-smoke install clean demo \
	frontend frontend-check openapi

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

# The environment is rebuilt only when the lock file or the project metadata change.
$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

install: $(VENV)/.synced

run: install frontend
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

test: install lint frontend-check
	$(BIN)/pytest
	$(MAKE) --no-print-directory bench-smoke

# Every benchmark, each figure beside a same-run baseline and the ratio (minutes).
bench: install
	$(BIN)/python -m bench

# Each benchmark once at tiny sizes, so a broken one fails `make test` (seconds).
bench-smoke: install
	BENCH_SMOKE=1 $(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache frontend/node_modules frontend/dist

# The dashboard (frontend/): built into frontend/dist, which `quantdesk serve` serves at /.
# Each step runs only when its inputs changed: npm ci on the lock file, the API schema and its
# TypeScript types on the Python sources, the build on the dashboard's sources.
FE := frontend
FE_MODULES := $(FE)/node_modules/.installed
FE_SOURCES := $(shell find $(FE)/src $(FE)/public -type f 2>/dev/null) \
	$(FE)/index.html $(FE)/vite.config.ts $(FE)/tsconfig.json $(FE)/package.json
NPM_MISSING = Node.js 20+ and npm are needed to build the dashboard (https://nodejs.org, or \
	apt-get install nodejs npm); the API still runs, without the dashboard at /.

$(FE_MODULES): $(FE)/package-lock.json
	cd $(FE) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The typed client is generated offline from the app's own schema (`quantdesk openapi`).
$(FE)/openapi.json: $(shell find src -name '*.py') $(VENV)/.synced
	$(QD) openapi > $@.tmp && mv $@.tmp $@

$(FE)/src/lib/api/schema.d.ts: $(FE)/openapi.json $(FE_MODULES)
	cd $(FE) && npm run --silent gen:api

$(FE)/dist/index.html: $(FE_SOURCES) $(FE)/src/lib/api/schema.d.ts $(FE_MODULES)
	cd $(FE) && npm run --silent build
	@touch $@

openapi: install $(FE)/src/lib/api/schema.d.ts

# `make run`: build the dashboard when its sources changed; without npm, say so and go on.
frontend: install
	@if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(FE)/dist/index.html; \
	else echo "*** $(NPM_MISSING)"; fi

# `make test`: the dashboard's type check, unit tests and build (its e2e runs under pytest).
frontend-check: install $(FE)/src/lib/api/schema.d.ts
	cd $(FE) && npm run --silent typecheck
	cd $(FE) && npm test --silent
	$(MAKE) --no-print-directory $(FE)/dist/index.html
