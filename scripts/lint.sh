#!/usr/bin/env bash
# The checks `make lint` runs and `make test` runs first: style (ruff), the layers as a contract
# (import-linter: shop <- analytics <- actions / bot) and types (mypy on shop/ and analytics/).
set -euo pipefail
cd "$(dirname "$0")/.."
CODE=(shop analytics actions bot tests bench)
mkdir -p test-output
echo "==> lint: ruff"
.venv/bin/ruff check "${CODE[@]}"
.venv/bin/ruff format --check --quiet "${CODE[@]}"
echo "==> lint: layer contracts (import-linter)"
.venv/bin/lint-imports --no-cache >test-output/lint-imports.log 2>&1 || { cat test-output/lint-imports.log; exit 1; }
grep -E "KEPT|BROKEN" test-output/lint-imports.log
echo "==> lint: types (mypy)"
.venv/bin/mypy
