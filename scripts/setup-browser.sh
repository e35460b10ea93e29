#!/usr/bin/env bash
# Makes sure Debian's Chromium is there for the browser tests (Playwright drives it; Playwright's
# own browser downloads are not used). Idempotent.
set -euo pipefail
CHROMIUM=${SHOPBOT_CHROMIUM:-/usr/bin/chromium}

if [[ -x $CHROMIUM ]]; then
  echo "==> browser: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM") is installed"
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "==> browser: installing Debian's chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "==> browser: $("$CHROMIUM" --version) installed"
  exit 0
fi
echo "error: the browser tests need Chromium at $CHROMIUM and it is missing." >&2
echo "       Install it as root: apt-get install -y chromium" >&2
echo "       (or point SHOPBOT_CHROMIUM at another Chromium binary)." >&2
exit 1
