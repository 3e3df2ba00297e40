#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the machine lacks
# (scripts/install-deps.sh: redis-server, Prometheus, Chromium, Node.js, cargo-nextest and the
# browser test's npm packages; silent when all are there). Tests start their own
# redis-server processes on free ports, so nothing needs to be running first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo nextest run --workspace --all-features --no-fail-fast "$@"
cargo test --workspace --all-features --doc
