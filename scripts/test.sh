#!/usr/bin/env bash
# The whole suite: unit, component and integration (the lab is started by the tests'
# session fixture). Whatever happens, nothing is left running or mounted.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

cleanup() {
  "$VENV/bin/huilong" lab down >/dev/null 2>&1 || "$VENV/bin/huilong" lab down
  # A test cluster a crashed pytest could not stop (the fixtures normally do).
  pgrep -a -f "bin/postgres -D /tmp/pytest-of-" | awk '{print $4}' | while read -r data; do
    echo "test.sh: stopping a leftover test PostgreSQL in $data" >&2
    runuser -u postgres -- "$(dirname "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)")/pg_ctl" \
      -D "$data" stop -m immediate >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

"$VENV/bin/python" -m pytest "$@"
