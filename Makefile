# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= roost.toml
DATA   ?= data

.PHONY: run test lint typecheck layers pytest install bench clean docs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(CONFIG): | $(STAMP)
	$(BIN)/roost init --config $(CONFIG) --data $(DATA) --profile development

run: $(STAMP) $(CONFIG)
	$(BIN)/roost serve --config $(CONFIG)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -q -n 2 --dist loadfile

test: lint typecheck layers pytest

docs: $(STAMP)
	$(BIN)/python -m roost.core.configdoc > docs/configuration.md
	$(BIN)/python -m roost.core.configdoc --example > roost.example.toml

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
