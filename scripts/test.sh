#!/usr/bin/env bash
# Runs the whole test suite (called by `make test` and, through it, by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
scripts/ensure-services.sh
scripts/setup-browser.sh
mkdir -p test-output
echo "==> lint (ruff)"
.venv/bin/ruff check analytics actions bot tests bench
echo "==> pytest"
exec .venv/bin/python -m pytest "$@"
