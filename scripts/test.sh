#!/usr/bin/env bash
# Runs every test of the workspace. Tests start their own redis-server processes on free
# ports, so nothing needs to be running first; redis-server must be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null; then
  echo "redis-server is not installed: sudo apt-get install -y redis-server" >&2
  exit 1
fi
# The demo page's browser test (services/devstack/tests/browser.rs) drives Debian's Chromium
# with playwright-core; its npm packages are installed here when missing.
if [ ! -x /usr/bin/chromium ] || ! command -v node >/dev/null; then
  echo "the browser test needs Chromium and Node.js: sudo apt-get install -y chromium nodejs npm" >&2
  exit 1
fi
bash services/devstack/tests/browser/install.sh
if command -v cargo-nextest >/dev/null; then
  cargo nextest run --workspace --all-features --no-fail-fast "$@"
  cargo test --workspace --all-features --doc
else
  cargo test --workspace --all-features --no-fail-fast "$@"
fi
