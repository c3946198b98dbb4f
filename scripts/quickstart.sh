#!/usr/bin/env bash
# One command: install everything, then run Identito on this machine with its embedded defaults
# (SQLite under ./var, migrations applied, demo data, built-in INSi simulator, a demo token printed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/identito demo "$@"
