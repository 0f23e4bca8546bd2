# Every target sets itself up on a fresh machine: the venv, its packages, and what the tests need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR ?= .data
# Debian packages the tests need, and a file each one installs, to tell whether it is there.
SYSTEM_PACKAGES := postgresql
SYSTEM_FILES := /usr/lib/postgresql/*/bin/initdb
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system test lint format demo bench serve clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Installs only when a file is missing; the tests start their own PostgreSQL, not the system one.
system:
	@for file in $(SYSTEM_FILES); do test -e "$$file" || missing=1; done; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES); \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: $(STAMP) system lint
	$(PY) -m pytest

serve: $(STAMP)
	$(VENV)/bin/wallaroo-registry-ui serve --data-dir $(DATA_DIR)

demo: $(STAMP)
	$(VENV)/bin/wallaroo-registry-ui demo --data-dir $(DATA_DIR)

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .ruff_cache
