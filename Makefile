# Two entry points for a fresh machine with only Python 3.11+ and make:
#   make demo   sets up the environment and runs `segmentum demo` on ./segmentum.duckdb
#   make test   sets up the environment and runs linters, type checks and the test suite
PYTHON ?= python3
BOOT := .bootstrap
UV := $(BOOT)/bin/uv
export UV_SYSTEM_CERTS := 1
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(shell $(PYTHON) -c "import sys; print(sys.executable)")

TEST_WORKERS ?= 2

.PHONY: demo test lint typecheck unit env bench clean

$(UV):
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/python -m pip install --quiet "uv==0.13.9"

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --quiet
	touch $@

env: .venv/.synced

demo: env
	$(UV) run --no-sync segmentum demo $(ARGS)

lint: env
	$(UV) run --no-sync ruff check src tests bench
	$(UV) run --no-sync ruff format --check src tests bench
	$(UV) run --no-sync lint-imports

typecheck: env
	$(UV) run --no-sync mypy

unit: env
	$(UV) run --no-sync pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test: lint typecheck unit

bench: env
	$(UV) run --no-sync python -m bench $(ARGS)

clean:
	rm -rf $(BOOT) .venv .pytest_cache .mypy_cache .ruff_cache
