#!/usr/bin/env bash
# Install Identito on a Debian/Ubuntu machine: system libraries (with apt when run as root,
# otherwise the exact apt line is printed), a virtualenv in .venv, and the Python packages.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3-venv python3-dev gcc libdmtx0b dmtx-utils poppler-utils softhsm2 xmlsec1 fonts-dejavu-core)
PYTHON=${PYTHON:-python3}
EXTRAS=""
[ "${1:-}" = "--test" ] && EXTRAS="[test]"
# The browser tests (tests/e2e) drive the system Chromium through Playwright.
[ "${1:-}" = "--test" ] && APT_PACKAGES+=(chromium)
# The MSSanté receipt tests read DSNs and MDNs from a real IMAP server (Debian's dovecot).
[ "${1:-}" = "--test" ] && APT_PACKAGES+=(dovecot-imapd)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "==> Installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Identito needs these system packages. Run, then start again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Identito needs Python 3.11 or newer ($PYTHON is $("$PYTHON" -V 2>&1)); set PYTHON=python3.11" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> Creating .venv"
  "$PYTHON" -m venv .venv
fi

stamp=".venv/.identito-installed$EXTRAS"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> Installing Python packages (.venv)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".$EXTRAS"
  touch "$stamp"
fi

# Test-only Node tools of the browser tests (an OpenID Connect provider, axe-core), when Node is here.
if [ -n "$EXTRAS" ] && command -v npm >/dev/null && [ ! -d tests/e2e/node/node_modules ]; then
  echo "==> Installing the browser tests' Node tools (tests/e2e/node)"
  (cd tests/e2e/node && npm ci --no-audit --no-fund --silent)
fi
