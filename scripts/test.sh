#!/usr/bin/env bash
# Runs the whole test suite (called by `make test` and, through it, by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
scripts/ensure-services.sh
scripts/setup-browser.sh
scripts/setup-nginx.sh
mkdir -p test-output
scripts/lint.sh
if [[ $# -gt 0 ]]; then  # a selection of tests: one pytest, as asked
  echo "==> pytest $*"
  exec .venv/bin/python -m pytest "$@"
fi
# The whole suite in two pytest processes side by side, so that both cores work: the tests that
# talk to the running assistant (marked servers: they start real Rasa and action servers) and all
# the others. Both wait for the Rasa model where they need it; when it is missing it is trained
# once, in the background, while the tests that need no model run (bot/rasa_model.py's lock).
# The others' report follows the server tests'.
others_log=test-output/pytest-others.log
echo "==> pytest: the tests of the running assistant here; the others beside them ($others_log)"
.venv/bin/python -m pytest -m "not servers" -p no:cacheprovider >"$others_log" 2>&1 &
others=$!
trap 'kill "$others" 2>/dev/null || true' EXIT
servers_status=0
.venv/bin/python -m pytest -m servers || servers_status=$?
others_status=0
wait "$others" || others_status=$?
trap - EXIT
echo "==> pytest: the other tests (run beside the ones above)"
cat "$others_log"
if [[ $servers_status -ne 0 || $others_status -ne 0 ]]; then
  echo "==> pytest failed: server tests exit $servers_status, other tests exit $others_status" >&2
  exit 1
fi
