# The two commands of the README: `make demo` and `make test`. Both install what they need on a
# fresh Debian machine (Python packages into .venv, Debian and npm packages) and are quick and
# idempotent when everything is already there.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get
# The pages' browser libraries from npm (Socket.IO's client; the till's BarcodeDetector ponyfill
# and its ZXing WebAssembly), copied into the package so the wheel carries them (never committed).
VENDOR := store_server/web/vendor
VENDORED := $(VENDOR)/socket.io.min.js $(VENDOR)/barcode-detector.js $(VENDOR)/zxing_reader.wasm
# pytest-xdist workers for `make test`. More than the cores on purpose: the end-to-end tests
# mostly wait out real time (docs/decisions.md, "The suite runs in parallel").
TEST_WORKERS ?= 4

.PHONY: demo test setup test-setup lint unit bench clean wheel constraints

demo: setup
	$(BIN)/python -m bench.demo $(DEMO_ARGS)

test: test-setup lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

setup: $(VENV)/.installed node_modules/.installed $(VENDORED)
	@command -v dbus-daemon >/dev/null || { $(APT_GET) update -qq && $(APT_GET) install -y -qq dbus; }

test-setup: setup
	@command -v chromium >/dev/null || { $(APT_GET) update -qq && $(APT_GET) install -y -qq chromium; }
	@command -v nginx >/dev/null || { $(APT_GET) update -qq && $(APT_GET) install -y -qq nginx; }
	@command -v redis-server >/dev/null || { $(APT_GET) update -qq && $(APT_GET) install -y -qq redis-server; }

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

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || { $(APT_GET) update -qq && $(APT_GET) install -y -qq python3-venv; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[server,cluster,gateway,sim,test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { $(APT_GET) update -qq && $(APT_GET) install -y -qq npm; }
	npm ci --no-audit --no-fund --silent
	touch $@

$(VENDOR)/socket.io.min.js: node_modules/.installed
	install -D -m 644 node_modules/socket.io-client/dist/socket.io.min.js $@
$(VENDOR)/barcode-detector.js: node_modules/.installed
	install -D -m 644 node_modules/barcode-detector/dist/iife/ponyfill.js $@
$(VENDOR)/zxing_reader.wasm: node_modules/.installed
	install -D -m 644 node_modules/zxing-wasm/dist/reader/zxing_reader.wasm $@

# The wheel to install on a store's server or a gateway: it carries the pages, icons, the
# Socket.IO client and the migrations (docs/deployment.md).
wheel: setup
	for f in $(VENDORED); do test -s $$f; done
	rm -rf dist build
	$(BIN)/pip wheel -q --no-deps -w dist .

# Pin every package at the version this venv has, so a gateway rebuilt months later installs
# the same ones (`pip install -c constraints.txt ...`); run after changing pyproject.toml.
constraints: setup
	$(BIN)/pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) node_modules var dist build store_server/web/vendor .pytest_cache .mypy_cache .ruff_cache
