PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench services clean

# requirements.txt is the service (all the production image installs);
# requirements-dev.txt adds the embedded PostgreSQL and Redis, the tests and the tooling.
$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(BIN)/.installed
	$(BIN)/python -m devtools.stack run

test: $(BIN)/.installed
	$(BIN)/python -m devtools.stack test $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

services: $(BIN)/.installed
	$(BIN)/python -m devtools.stack services

bench: $(BIN)/.installed
	$(BIN)/python -m devtools.stack bench $(BENCH)

clean:
	rm -rf .data media staticfiles
