#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian machine: system packages (as root), the virtualenv,
# the Asterisk root and the private PostgreSQL cluster. Safe to run again: each step
# checks before it works.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have debootstrap || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
have espeak-ng || need+=(espeak-ng)
have sox || need+=(sox)
have sipp || need+=(sip-tester)
have chromium || need+=(chromium)
have chromedriver || need+=(chromium-driver)
# CJK glyphs for the desk in the browser (names and transcripts in Chinese and Korean).
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
have initdb || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing system packages (${need[*]}); run 'make setup' as root" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

stamp="$VENV/.installed"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q --disable-pip-version-check -e '.[dev]'
  touch "$stamp"
fi

# The Asterisk root (debootstrap, or the machine's cached copy) and the database cluster.
"$VENV/bin/huilong" lab provision
