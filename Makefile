# The two commands of the README: `make demo` and `make test`. Both install what they need on a
# fresh Debian machine (Python packages into .venv, Debian and npm packages) and are quick and
# idempotent when everything is already there.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: demo test setup test-setup lint unit bench clean

demo: setup
	$(BIN)/python -m bench.demo

test: test-setup lint
	$(BIN)/pytest $(PYTEST_ARGS)

setup: $(VENV)/.installed node_modules/.installed
	@command -v dbus-daemon >/dev/null || { $(APT_GET) update -qq && $(APT_GET) install -y -qq dbus; }

test-setup: setup
	@command -v chromium >/dev/null || { $(APT_GET) update -qq && $(APT_GET) install -y -qq chromium; }

lint: setup
	$(BIN)/ruff check gateway store_server firmware_sim bench tests
	$(BIN)/ruff format --check gateway store_server firmware_sim bench tests
	$(BIN)/mypy gateway firmware_sim store_server bench tests

unit: setup
	$(BIN)/pytest -m "not e2e and not browser" $(PYTEST_ARGS)

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench latency
	$(BIN)/python -m bench decode

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || { $(APT_GET) update -qq && $(APT_GET) install -y -qq python3-venv; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[server,cluster,gateway,sim,test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { $(APT_GET) update -qq && $(APT_GET) install -y -qq npm; }
	npm ci --no-audit --no-fund --silent
	touch $@

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
