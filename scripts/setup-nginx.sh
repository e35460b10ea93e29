#!/usr/bin/env bash
# Makes sure Debian's nginx is there for the load-balancer test (tests/e2e/test_balancer.py) and
# the several-server deployment (deploy/README.md). Idempotent.
set -euo pipefail
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [[ -x $NGINX ]]; then
  echo "==> nginx: $("$NGINX" -v 2>&1) is installed"
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "==> nginx: installing Debian's nginx-light (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; }
  # The package may start a system nginx on port 80; the tests run their own.
  (service nginx stop || true) >/dev/null 2>&1
  echo "==> nginx: $(/usr/sbin/nginx -v 2>&1) installed"
  exit 0
fi
echo "error: the load-balancer test needs nginx and it is missing." >&2
echo "       Install it as root: apt-get install -y nginx-light" >&2
exit 1
