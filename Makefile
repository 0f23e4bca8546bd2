# Every target sets itself up on a fresh machine: the venv, its packages, and what the tests need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
DATA_DIR ?= .data
# Debian packages the tests need, and a file each one installs, to tell whether it is there.
SYSTEM_PACKAGES := postgresql chromium
SYSTEM_FILES := /usr/lib/postgresql/*/bin/initdb /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The panel's view: TypeScript in js/, bundled by esbuild into the package (not committed).
BUNDLE := wallaroo_registry_ui/static/widget.js
NODE_MODULES := node_modules/.package-lock.json

.PHONY: setup system test lint format demo bench serve clean

setup: $(STAMP) $(BUNDLE)

# The tests' packages (the demo's among them); the demo alone needs only its own.
$(STAMP): pyproject.toml | $(BUNDLE)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml | $(BUNDLE)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[demo]'
	touch $(DEMO_STAMP)

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_MODULES)

$(BUNDLE): $(NODE_MODULES) tsconfig.json $(wildcard js/*.ts js/*.css)
	npm run build

# Installs only when a file is missing; the tests start their own PostgreSQL, not the system one.
system:
	@for file in $(SYSTEM_FILES); do test -e "$$file" || missing=1; done; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES); \
	fi

lint: $(STAMP) $(NODE_MODULES)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	npm run --silent typecheck

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: $(STAMP) $(BUNDLE) system lint
	$(PY) -m pytest

serve: $(STAMP)
	$(VENV)/bin/wallaroo-registry-ui serve --data-dir $(DATA_DIR)

# MLflow with sample models, the registry service and JupyterLab on the notebook; Ctrl-C stops all.
demo: $(DEMO_STAMP) $(BUNDLE)
	$(VENV)/bin/wallaroo-registry-ui demo --data-dir $(DATA_DIR)/demo

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .ruff_cache node_modules wallaroo_registry_ui/static
