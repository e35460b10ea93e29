# shopbot — `make run` sets up and runs everything; `make test` runs every test.
# Each target prints what it does and reuses what is already there.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
CODE := shop analytics actions bot tests bench
export RASA_TELEMETRY_ENABLED := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup demo train run test test-fast lint format bench clean

help:
	@echo "make run    set up (first time), build the demo shop, train, start every server"
	@echo "make test   set up (first time), then run the whole test suite"
	@echo "make setup  create $(VENV) with Python 3.10 and the pinned dependencies"
	@echo "make demo   build the demo shop database if there is none"
	@echo "make train  train the analytics and the Rasa model if missing or stale"
	@echo "make lint   ruff, the layer contracts (import-linter) and the type checker (mypy)"
	@echo "make bench  run the benchmarks and write their figures to bench/RESULTS.md"

setup:
	@scripts/setup-venv.sh
	@scripts/build-storefront.sh

demo: setup
	@$(BIN)/shopbot setup-demo --if-missing

train: demo
	@$(BIN)/shopbot train --if-stale --with-rasa

run: train
	@$(BIN)/shopbot run --demo-login

test: setup
	@scripts/test.sh

lint: setup
	@scripts/lint.sh

format: setup
	$(BIN)/ruff check --fix $(CODE)
	$(BIN)/ruff format $(CODE)

bench: train
	@$(BIN)/python -m bench

clean:
	rm -rf var/ models/ results/ test-output/ .pytest_cache
