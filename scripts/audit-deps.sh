#!/usr/bin/env bash
# Audit the locked dependency set (the packages installed in .venv by scripts/setup.sh, exactly as
# `pip freeze` pins them) against the PyPI / OSV vulnerability databases with pip-audit.
# Needs network access to pypi.org (default) or api.osv.dev (--osv). Exceptions: one vulnerability
# id per line in scripts/audit-deps-exceptions.txt, each with its reason (docs/operations.md).
#
# Exit codes: 0 no known vulnerability outside the exceptions; 1 vulnerabilities found;
# 3 the vulnerability database could not be reached (never reported as "no vulnerability").
# Usage: scripts/audit-deps.sh [--osv]
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICE=pypi
[ "${1:-}" = "--osv" ] && SERVICE=osv
AUDIT=.venv/bin/pip-audit
[ -x "$AUDIT" ] || { echo "pip-audit is not installed: scripts/setup.sh --test" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The locked set: every installed distribution pinned, the project itself (editable) left out.
.venv/bin/python -m pip freeze --exclude-editable --all > "$work/locked.txt"

ignores=()
while read -r id _; do
  [ -n "$id" ] && [ "${id:0:1}" != "#" ] && ignores+=(--ignore-vuln "$id")
done < scripts/audit-deps-exceptions.txt

# --strict: a package the service cannot answer for is an error, not a silent pass (without it,
# pip-audit says "No known vulnerabilities found" when pypi.org does not answer).
set +e
"$AUDIT" --strict --no-deps --disable-pip --progress-spinner off --desc on --vulnerability-service "$SERVICE" \
  -r "$work/locked.txt" "${ignores[@]}" > "$work/out.txt" 2> "$work/err.txt"
status=$?
set -e
cat "$work/out.txt"
if [ $status -ne 0 ] && grep -qE "ConnectionError|NameResolutionError|Dependency not found on PyPI|Max retries" "$work/err.txt"; then
  echo "blocked: no vulnerability database reachable ($SERVICE):" >&2
  grep -E "ConnectionError|Dependency not found on PyPI" "$work/err.txt" | tail -1 >&2
  exit 3
fi
cat "$work/err.txt" >&2
exit $status
