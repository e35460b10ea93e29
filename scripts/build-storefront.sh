#!/usr/bin/env bash
# Builds the storefront page's one third-party file: the socket.io client, installed from the npm
# registry at the exact version pinned in bot/storefront/package-lock.json (npm ci checks its
# integrity hash) and copied to bot/storefront/static/vendor/. Nothing is fetched from anywhere
# else. Idempotent: does nothing when the copy is already there and matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../bot/storefront"

VENDOR=static/vendor
DIST=node_modules/socket.io-client/dist/socket.io.min.js
STAMP=$VENDOR/.lock-sha256

if ! command -v npm >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "==> storefront: installing Debian's nodejs and npm (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm (Node.js 18 or newer) is needed to build the storefront page's chat widget." >&2
  echo "       Debian/Ubuntu: apt-get install -y nodejs npm; then run $0 again." >&2
  exit 1
fi

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $VENDOR/socket.io.min.js && -f $STAMP && "$(cat "$STAMP")" == "$lock_sum" ]]; then
  echo "==> storefront: socket.io client already built ($VENDOR/socket.io.min.js)"
  exit 0
fi

echo "==> storefront: npm ci (socket.io-client, pinned in bot/storefront/package-lock.json)"
npm ci --no-audit --no-fund --loglevel=error
mkdir -p "$VENDOR"
cp "$DIST" "$VENDOR/socket.io.min.js"
# The licence travels with the copy.
cp node_modules/socket.io-client/LICENSE "$VENDOR/socket.io-client.LICENSE"
echo "$lock_sum" > "$STAMP"
echo "==> storefront: copied $(head -c 200 "$VENDOR/socket.io.min.js" | grep -o 'Socket.IO v[0-9.]*') to $VENDOR/"
