#!/usr/bin/env bash
# Installs the browser test's npm packages (playwright-core, pinned in package-lock.json)
# when node_modules is missing or older than the lock file. Chromium itself comes from
# Debian (sudo apt-get install -y chromium), never from a download of its own.
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm is not installed: sudo apt-get install -y nodejs npm" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
