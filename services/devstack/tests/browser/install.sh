#!/usr/bin/env bash
# Installs the browser test's npm packages (playwright-core, pinned in package-lock.json)
# when node_modules is missing or older than the lock file, saying so; prints nothing otherwise.
# Chromium itself comes from Debian (scripts/install-deps.sh), never from a download of its own.
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm is not installed: bash scripts/install-deps.sh installs it" >&2
  exit 1
fi
echo "installing the browser test's npm packages (npm ci in services/devstack/tests/browser)"
npm ci --no-audit --no-fund --loglevel=error
