#!/usr/bin/env bash
# Runs the three-gateway cluster scenario and prints its figures: three sse-gateway
# processes, two workers and a Redis behind a readiness-aware balancer, 500 reconnecting
# clients, then a rolling SIGTERM restart, a SIGKILL and a Redis restart.
# Needs redis-server. Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
cargo nextest run -p sse-gateway --test cluster --no-capture --retries 0 2>&1 \
  | grep -E '^\(|^streams per pod|PASS|FAIL'
