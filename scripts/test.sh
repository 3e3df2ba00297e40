#!/usr/bin/env bash
# Runs every test of the workspace. Tests start their own redis-server processes on free
# ports, so nothing needs to be running first; redis-server must be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null; then
  echo "redis-server is not installed: sudo apt-get install -y redis-server" >&2
  exit 1
fi
if command -v cargo-nextest >/dev/null; then
  cargo nextest run --workspace --all-features --no-fail-fast "$@"
  cargo test --workspace --all-features --doc
else
  cargo test --workspace --all-features --no-fail-fast "$@"
fi
