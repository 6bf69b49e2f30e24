#!/usr/bin/env bash
# The whole suite: unit, component and integration (the lab is started by the tests'
# session fixture). Whatever happens, nothing is left running or mounted.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
cleanup() { "$VENV/bin/huilong" lab down >/dev/null 2>&1 || "$VENV/bin/huilong" lab down; }
trap cleanup EXIT
"$VENV/bin/python" -m pytest "$@"
