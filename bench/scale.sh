#!/usr/bin/env bash
# Scale: 80,000 concurrent streams across 5 gateway processes on this machine (one process may
# hold at most ~19,000: the open-file limit is 20,000 and cannot be raised), one Redis, events
# still delivered to every stream. One load generator per gateway (16,000 streams over 1,600
# job channels each, from its own source addresses), all at once; each publishes its own
# events through the history script. The cluster-wide stream count is read from
# GET /api/v1/sse/stats while they run. About two minutes; not run in CI.
#
#   bash bench/scale.sh        (PODS=5 PER_POD=16000 RATE=100 EVENTS=4000 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

PODS=${PODS:-5}
PER_POD=${PER_POD:-16000}
RATE=${RATE:-100}
EVENTS=${EVENTS:-4000}
CHANNELS=$((PER_POD / 10))

log "building (release)"
cargo build --release -p sse-gateway -p loadgen --bins 2>&1 | tail -1 >&2
machine

start_redis R
declare -a PORTS PIDS
for i in $(seq "$PODS"); do
  start_gateway G "$R_PORT"
  PORTS[i]=$G_PORT
  PIDS[i]=$G_PID
done
log "$PODS gateways on ports ${PORTS[*]}, Redis on $R_PORT"

declare -a LOADGENS
for i in $(seq "$PODS"); do
  target/release/loadgen --url "http://127.0.0.1:${PORTS[i]}" --redis-url "redis://127.0.0.1:$R_PORT" \
    --server-pid "${PIDS[i]}" --redis-pid "$R_PID" --source-first "127.0.$i.1" --sources 8 \
    --connect-concurrency 128 --label "pod $i" \
    fanout --clients "$PER_POD" --channels "$CHANNELS" --rate "$RATE" --events "$EVENTS" --settle 10 \
    >"$BENCH_DIR/loadgen-$i.out" 2>"$BENCH_DIR/loadgen-$i.err" &
  LOADGENS[i]=$!
done

# While they run: the most streams open at once (pods report every 5 s) and the gateways'
# memory at that moment.
peak=0
peak_rss=0
running() { local pid; for pid in "${LOADGENS[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done; return 1; }
while running; do
  total=$(curl -s --max-time 5 "http://127.0.0.1:${PORTS[1]}/api/v1/sse/stats" | jq -r '.totalConnections // 0' 2>/dev/null || echo 0)
  if [ "${total:-0}" -gt "$peak" ]; then
    peak=$total
    peak_rss=0
    for pid in "${PIDS[@]}"; do
      peak_rss=$((peak_rss + $(awk '/VmRSS/ {print $2}' "/proc/$pid/status")))
    done
    log "streams open across the pods: $peak (gateways' RSS $((peak_rss / 1024)) MiB)"
  fi
  sleep 5
done
status=0
for i in $(seq "$PODS"); do wait "${LOADGENS[i]}" || status=1; done

echo
echo "| pod | streams open | ready | delivered | expected | lost | duplicated | reordered | p50 ms | p99 ms |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for i in $(seq "$PODS"); do
  line=$(grep '^{"loadgen":' "$BENCH_DIR/loadgen-$i.out" || true)
  if [ -z "$line" ]; then
    echo "| $i | failed: $(tail -1 "$BENCH_DIR/loadgen-$i.err") |"
    status=1
    continue
  fi
  echo "$line" | jq -r --arg i "$i" \
    '"| \($i) | \(.streams_open) | \(.streams_open - .not_ready) | \(.totals.received) | \(.totals.expected) | \(.totals.lost) | \(.totals.duplicated) | \(.totals.reordered) | \(.latency.p50_ms) | \(.latency.p99_ms) |"'
done
cat "$BENCH_DIR"/loadgen-*.out | grep '^{"loadgen":' | jq -s -r --arg peak "$peak" --arg rss "$peak_rss" '
  "\nstreams open: \(map(.streams_open) | add) (at most \($peak) at once by the pods'"'"' own count);" +
  " delivered \(map(.totals.received) | add) of \(map(.totals.expected) | add), lost \(map(.totals.lost) | add);" +
  " gateways'"'"' RSS at the peak \(($rss | tonumber) / 1024 | floor) MiB (\(($rss | tonumber) / (($peak | tonumber) + 0.001) * 100 | floor / 100) KiB per stream)"'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
