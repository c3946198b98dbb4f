#!/usr/bin/env bash
# One command: install what the tests need, check the layer rules (import-linter), the style (ruff)
# and the types of the domain and the storage layer (mypy strict), then run the whole test suite
# (database tests on SQLite and, when reachable, on PostgreSQL at 127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/lint-imports
.venv/bin/ruff check app tests bench
.venv/bin/mypy --strict app/domain app/db
exec .venv/bin/python -m pytest "$@"
