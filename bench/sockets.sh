#!/usr/bin/env bash
# Hostile sockets against the release gateway: 2,000 idle sockets, 2,000 request heads
# trickling a byte a second, 500 POST bodies trickling a byte a second, while 200 live
# streams receive 100 events per second (bench/hostile_sockets.py). Prints when each kind was
# closed against its deadline, the live streams' losses and p99, and the gateway's open
# descriptors before, during and after. About a minute; not run in CI.
#
#   bash bench/sockets.sh          (IDLE=2000 TRICKLE=2000 POSTS=500 LIVE=200 RATE=100)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

log "building (release)"
cargo build --release -p sse-gateway --bins 2>&1 | tail -1 >&2
machine
start_redis GW_REDIS
start_gateway GW "$GW_REDIS_PORT" HEADER_READ_TIMEOUT=10s REQUEST_TIMEOUT=10s
log "gateway on $GW_PORT (pid $GW_PID)"
python3 bench/hostile_sockets.py --url "http://127.0.0.1:$GW_PORT" --pid "$GW_PID" \
  --idle "${IDLE:-2000}" --trickle "${TRICKLE:-2000}" --posts "${POSTS:-500}" \
  --live "${LIVE:-200}" --rate "${RATE:-100}" --seconds 20 --header-timeout 10 --request-timeout 10
