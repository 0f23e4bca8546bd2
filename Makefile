# Every target sets itself up on a fresh machine: the venv, its packages, and what the tests need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR ?= .data

.PHONY: setup test lint format demo bench serve clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: $(STAMP) lint
	$(PY) -m pytest

serve: $(STAMP)
	$(VENV)/bin/wallaroo-registry-ui serve --data-dir $(DATA_DIR)

demo: $(STAMP)
	$(VENV)/bin/wallaroo-registry-ui demo --data-dir $(DATA_DIR)

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .ruff_cache
