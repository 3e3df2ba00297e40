#!/usr/bin/env bash
# The cost of a new subscription with its first delivery (the job's events so far) and
# without it (`?replay=false`): N subscribe requests at 1,000 per second over 100 streams,
# each to a job with 8 events in its history, against one gateway (release build) and its
# own redis-server on loopback. The two kinds alternate, REPEAT times each; every figure is
# printed, and the JSON lines are kept in target/bench/. About a minute; not run in CI.
#
#   bash bench/subscribe.sh          (SUBSCRIBES=10000 RATE=1000 REPEAT=3 EVENTS=8)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

SUBSCRIBES=${SUBSCRIBES:-10000}
RATE=${RATE:-1000}
REPEAT=${REPEAT:-3}
EVENTS=${EVENTS:-8}

log "building (release)"
cargo build --release -p sse-gateway -p loadgen --bins 2>&1 | tail -1 >&2
mkdir -p target/bench
RESULTS="target/bench/subscribe-$(date +%Y%m%d-%H%M%S).jsonl"
machine | tee "$RESULTS.machine"

start_redis GW_REDIS
start_gateway GW "$GW_REDIS_PORT"
log "gateway on $GW_PORT (pid $GW_PID, redis $GW_REDIS_PORT)"

run() {
  local label=$1
  shift
  log "$label"
  target/release/loadgen --target gateway --url "http://127.0.0.1:$GW_PORT" \
    --redis-url "redis://127.0.0.1:$GW_REDIS_PORT" --server-pid "$GW_PID" \
    --redis-pid "$GW_REDIS_PID" --label "$label" subscribe --streams 100 \
    --subscribes "$SUBSCRIBES" --rate "$RATE" --events-per-job "$EVENTS" "$@" \
    | tee "$BENCH_DIR/last.txt" >&2
  grep '^{"loadgen":' "$BENCH_DIR/last.txt" >>"$RESULTS"
  sleep 2
}

for round in $(seq 1 "$REPEAT"); do
  run "replay, round $round"
  run "live only, round $round" --live-only
done
log "results: $RESULTS"
