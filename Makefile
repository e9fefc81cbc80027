# The two commands of the README: `make demo` and `make test`. Both set up a virtual environment first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint

$(BIN)/pantau: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/pantau

demo: $(BIN)/pantau
	$(BIN)/pantau demo

test: $(BIN)/pantau
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(BIN)/pantau
	$(BIN)/ruff check .
	$(BIN)/mypy
