#!/usr/bin/env bash
# Our gateway and Nchan side by side, same machine, same run, same workloads, each against
# its own redis-server, driven by the same load generator (services/loadgen) over loopback:
#   idle      15,000 streams (one job channel each): memory per stream
#   fanout    2,000 streams / 100 channels at 2,000 events/s, and 15,000 / 1,000 at 2,000/s:
#             latency, loss, deliveries per CPU-second of the server and its Redis
#   connect   15,000 streams opened, then all dropped and reconnected at once with
#             Last-Event-ID (the missed event must be replayed)
# Prints every figure for both and the ratio; the JSON lines are kept in target/bench/.
# Installs nginx and libnginx-mod-nchan (Debian) when missing. A few minutes; not run in CI.
#
#   bash bench/compare.sh            (QUICK=1: 10x fewer streams;
#                                     WORKLOADS="fanout-big connect": a subset, in that order;
#                                     GATEWAY_BIN=path: another gateway build, e.g. an older one;
#                                     REPEAT=3: every workload three times, both servers each
#                                     time, then the spread of the fan-out ratios and their median)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

SCALE=1
[ "${QUICK:-0}" = 1 ] && SCALE=10
IDLE=$((15000 / SCALE))
BIG=$((15000 / SCALE))
SMALL=$((2000 / SCALE))

install_nchan
log "building (release)"
cargo build --release -p sse-gateway -p loadgen --bins 2>&1 | tail -1 >&2
[ -n "${GATEWAY_BIN:-}" ] && log "gateway build: $GATEWAY_BIN"

mkdir -p target/bench
RESULTS="target/bench/compare-$(date +%Y%m%d-%H%M%S).jsonl"
machine | tee "$RESULTS.machine"

start_redis GW_REDIS
start_gateway GW "$GW_REDIS_PORT"
start_redis NC_REDIS
start_nchan NC "$NC_REDIS_PORT"
log "gateway on $GW_PORT (pid $GW_PID, redis $GW_REDIS_PORT), nchan on $NC_PORT (redis $NC_REDIS_PORT)"

# run TARGET LABEL MODE ARGS…: one loadgen run, its JSON line appended to the results.
run() {
  local target=$1 label=$2
  shift 2
  local args
  if [ "$target" = gateway ]; then
    args=(--target gateway --url "http://127.0.0.1:$GW_PORT" --redis-url "redis://127.0.0.1:$GW_REDIS_PORT"
      --server-pid "$GW_PID" --redis-pid "$GW_REDIS_PID")
  else
    args=(--target nchan --url "http://127.0.0.1:$NC_PORT" --redis-url "redis://127.0.0.1:$NC_REDIS_PORT"
      --redis-pid "$NC_REDIS_PID")
  fi
  log "$target: $label"
  target/release/loadgen "${args[@]}" --label "$label" "$@" | tee "$BENCH_DIR/last.txt" >&2
  grep '^{"loadgen":' "$BENCH_DIR/last.txt" >>"$RESULTS"
  sleep 2
}

workload() {
  local target
  for target in gateway nchan; do
    case $1 in
      idle) run "$target" "idle $IDLE" idle --clients "$IDLE" --hold 5 ;;
      fanout-small)
        run "$target" "fanout $SMALL/100" fanout --clients "$SMALL" --channels 100 --rate 2000 --events 20000 ;;
      fanout-big)
        run "$target" "fanout $BIG/1000" fanout --clients "$BIG" --channels 1000 --rate 2000 --events 20000 ;;
      connect) run "$target" "connect $BIG" connect --clients "$BIG" --channels 1000 --timeout 120 ;;
      *) echo "unknown workload $1" >&2; return 1 ;;
    esac
  done
}
for round in $(seq "${REPEAT:-1}"); do
  [ "${REPEAT:-1}" -gt 1 ] && log "round $round of $REPEAT"
  for name in ${WORKLOADS:-idle fanout-small fanout-big connect}; do
    workload "$name"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS.machine"

python3 bench/summary.py "$RESULTS"
log "JSON lines: $RESULTS"
