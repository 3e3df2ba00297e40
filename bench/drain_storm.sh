#!/usr/bin/env bash
# A drain at scale: TOTAL streams over three gateway processes (release build) and one Redis,
# events flowing on every stream's channel, then SIGTERM to one gateway with the default drain
# (DRAIN_DELAY 5 s, DRAIN_WINDOW 20 s, SSE_RETRY 3 s). The clients are LOADGENS load
# generators (`loadgen drain`), each with its own channels and source addresses; a stream
# whose gateway ends it reconnects as EventSource does, after the `retry:` it was sent, with
# Last-Event-ID, to one of the other gateways (a drained gateway's streams spread evenly over
# the other two, as a balancer would send them). Prints when the drained gateway's streams were back on
# the other two (per second after the SIGTERM), whether all were back within
# DRAIN_DELAY + DRAIN_WINDOW + 5 s, and what was lost or duplicated. About two minutes; not
# run in CI.
#
# One process may hold at most about 19,000 sockets here (the open-file limit is 20,000 and
# cannot be raised), and after the drain each of the two others holds half of TOTAL: TOTAL is
# at most 36,000 on this machine.
#
#   bash bench/drain_storm.sh      (TOTAL=36000 LOADGENS=3 RATE=100 SECONDS_PUBLISHING=50)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

TOTAL=${TOTAL:-36000}
LOADGENS=${LOADGENS:-3}
RATE=${RATE:-100}
SECONDS_PUBLISHING=${SECONDS_PUBLISHING:-50}
DRAIN_DELAY_S=5
DRAIN_WINDOW_S=20
PER=$((TOTAL / LOADGENS))
CHANNELS=$((PER / 10))
EVENTS=$((RATE * SECONDS_PUBLISHING))

log "building (release)"
cargo build --release -p sse-gateway -p loadgen --bins 2>&1 | tail -1 >&2
machine

start_redis R
declare -a PORTS PIDS
for i in 0 1 2; do
  # The chart's defaults for the drain (bench/lib.sh shortens DRAIN_DELAY otherwise).
  start_gateway G "$R_PORT" DRAIN_DELAY=${DRAIN_DELAY_S}s DRAIN_WINDOW=${DRAIN_WINDOW_S}s \
    SSE_RETRY=3s SHUTDOWN_TIMEOUT=30s
  PORTS[i]=$G_PORT
  PIDS[i]=$G_PID
done
log "gateways on ${PORTS[*]} (pids ${PIDS[*]}), redis on $R_PORT; $TOTAL streams from $LOADGENS load generators"

RUN="$BENCH_DIR/drain"
mkdir -p "$RUN"
rm -f "$RUN"/*
declare -a GENS
for g in $(seq 0 $((LOADGENS - 1))); do
  target/release/loadgen --target gateway --url "http://127.0.0.1:${PORTS[0]}" \
    --redis-url "redis://127.0.0.1:$R_PORT" --server-pid "${PIDS[0]}" --redis-pid "$R_PID" \
    --source-first "127.0.$((g + 1)).1" --sources 8 --label "drain $TOTAL" \
    drain --also "http://127.0.0.1:${PORTS[1]}" --also "http://127.0.0.1:${PORTS[2]}" \
    --clients "$PER" --channels "$CHANNELS" --events "$EVENTS" --rate "$RATE" \
    --timeout 60 --ready-file "$RUN/ready-$g" >"$RUN/loadgen-$g.out" 2>&1 &
  GENS+=($!)
  BENCH_PIDS+=($!)
done
for g in $(seq 0 $((LOADGENS - 1))); do
  while [ ! -e "$RUN/ready-$g" ]; do
    kill -0 "${GENS[g]}" 2>/dev/null || { cat "$RUN/loadgen-$g.out" >&2; exit 1; }
    sleep 0.2
  done
done
sleep 3
curl -fsS "http://127.0.0.1:${PORTS[0]}/api/v1/sse/stats" >"$RUN/stats.json"
T0=$(date +%s%3N)
kill -TERM "${PIDS[0]}"
log "SIGTERM to the gateway on ${PORTS[0]} at $T0"
for pid in "${GENS[@]}"; do wait "$pid" || true; done
cat "$RUN"/loadgen-*.out | grep -v '^{"loadgen":' >&2 || true
# Kept when asked (the temporary directory goes when the script ends).
[ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$BENCH_DIR"/gateway-*.log "$RUN"/* "$KEEP"/

python3 - "$RUN" "$T0" "$DRAIN_DELAY_S" "$DRAIN_WINDOW_S" "bench-${PORTS[0]}" <<'EOF'
import glob, json, sys
run, t0, delay, window, drained = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
stats = json.load(open(f"{run}/stats.json"))
held = next((p["totalConnections"] for p in stats["pods"] if p["pod"] == drained), None)
runs = []
for path in sorted(glob.glob(f"{run}/loadgen-*.out")):
    runs += [json.loads(l) for l in open(path) if l.startswith('{"loadgen":')]
times = sorted(t - t0 for r in runs for t in r["reconnected_at_ms"])
total = lambda key: sum(r[key] for r in runs)
lost = sum(r["totals"]["lost"] for r in runs)
dup = sum(r["totals"]["duplicated"] for r in runs)
expected = sum(r["totals"]["expected"] for r in runs)
limit = (delay + window + 5) * 1000
last = times[-1] if times else 0
print(f"streams: {total('streams')} over 3 gateways; the drained one held {held}")
print(f"moved: {total('streams_moved')} streams, {len(times)} reconnects; never opened {total('never_opened')}, "
      f"failed attempts {total('failed_attempts')} (retried)")
print(f"first / median / last back after SIGTERM: {times[0] / 1000 if times else 0:.2f} s / "
      f"{times[len(times) // 2] / 1000 if times else 0:.2f} s / {last / 1000:.2f} s "
      f"(limit DRAIN_DELAY + DRAIN_WINDOW + 5 s = {limit / 1000:.0f} s): {'within' if last <= limit else 'LATE'}")
print(f"events: {expected} expected over all streams, lost {lost}, duplicated {dup}, "
      f"streams incomplete {total('streams_incomplete')}")
print("\n| seconds after SIGTERM | streams back |\n|---|---|")
for second in range(0, last // 1000 + 1):
    n = sum(1 for t in times if second * 1000 <= t < (second + 1) * 1000)
    print(f"| {second}–{second + 1} | {n} |")
ok = held is not None and total("streams_moved") >= held and lost == 0 and last <= limit
sys.exit(0 if ok else 1)
EOF
