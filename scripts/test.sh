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
if [[ $# -gt 0 ]]; then  # a selection of tests: one pytest, as asked
  echo "==> pytest $*"
  exec .venv/bin/python -m pytest "$@"
fi
# The whole suite in two pytest processes side by side, so that both cores work: the tests that
# need the Rasa model (marked rasa: they start real servers, and wait for the model, trained in the
# background when it is missing) and all the others. The others' report follows the model tests'.
others_log=test-output/pytest-others.log
echo "==> pytest: the tests that need the Rasa model here; the others beside them ($others_log)"
.venv/bin/python -m pytest -m "not rasa" -p no:cacheprovider >"$others_log" 2>&1 &
others=$!
trap 'kill "$others" 2>/dev/null || true' EXIT
model_status=0
.venv/bin/python -m pytest -m rasa || model_status=$?
others_status=0
wait "$others" || others_status=$?
trap - EXIT
echo "==> pytest: the tests that do not need the Rasa model (run beside the ones above)"
cat "$others_log"
if [[ $model_status -ne 0 || $others_status -ne 0 ]]; then
  echo "==> pytest failed: model tests exit $model_status, other tests exit $others_status" >&2
  exit 1
fi
