#!/usr/bin/env bash
# The floor under the gateway's cost per open: a tokio server that only accepts, reads a
# request head and answers 200 with one event (services/loadgen/src/bin/floor.rs), against
# Nchan, ROUNDS times alternating, each opening CLIENTS streams with the load generator's
# connect mode (its storm phase is not measured: the floor publishes nothing). Prints the
# `connect:` line of each run: CPU ms per stream opened, the server's and its Redis'.
#
#   bash bench/floor.sh      (CLIENTS=15000 ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

CLIENTS=${CLIENTS:-15000}
install_nchan
log "building (release)"
cargo build --release -p loadgen --bins 2>&1 | tail -1 >&2
machine

start_redis FL_REDIS
FL_PORT=$(free_port)
target/release/floor "127.0.0.1:$FL_PORT" &
BENCH_PIDS+=($!)
FL_PID=$!
start_redis NC_REDIS
start_nchan NC "$NC_REDIS_PORT"
sleep 0.5
for round in $(seq "${ROUNDS:-2}"); do
  log "round $round: floor"
  target/release/loadgen --target gateway --url "http://127.0.0.1:$FL_PORT" \
    --redis-url "redis://127.0.0.1:$FL_REDIS_PORT" --server-pid "$FL_PID" --label floor \
    connect --clients "$CLIENTS" --channels 1000 --timeout 3 2>&1 | grep '^connect:' | sed 's/^/floor /'
  sleep 3
  log "round $round: nchan"
  target/release/loadgen --target nchan --url "http://127.0.0.1:$NC_PORT" \
    --redis-url "redis://127.0.0.1:$NC_REDIS_PORT" --redis-pid "$NC_REDIS_PID" --label nchan \
    connect --clients "$CLIENTS" --channels 1000 --timeout 60 2>&1 | grep '^connect:' | sed 's/^/nchan /'
  sleep 3
done
