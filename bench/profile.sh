#!/usr/bin/env bash
# Where a fan-out's CPU goes, for our gateway and for Nchan: the fan-out of bench/compare.sh
# (CLIENTS streams over CHANNELS channels, 2,000 events/s) with `perf record -g` on the
# server's processes for PERF_SECONDS in the middle of it. Prints per million deliveries the
# server's CPU split into user space and kernel, the part of the kernel that is the *client's*
# side of loopback TCP (net_rx_action: on loopback the receiver's TCP processing runs inside
# the sender's write), and the CPU of the server's Redis; then the ratios with and without
# that client-side part. Needs perf (Debian `linux-perf`) and the right to use it. Not run in CI.
#
#   bash bench/profile.sh      (CLIENTS=15000 CHANNELS=1000 EVENTS=40000 PERF_SECONDS=8)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

CLIENTS=${CLIENTS:-15000}
CHANNELS=${CHANNELS:-1000}
EVENTS=${EVENTS:-40000}
PERF_SECONDS=${PERF_SECONDS:-8}

command -v perf >/dev/null || { echo "perf is not installed: sudo apt-get install -y linux-perf" >&2; exit 1; }
install_nchan
log "building (release)"
cargo build --release -p sse-gateway -p loadgen --bins 2>&1 | tail -1 >&2
machine

# profile NAME LOADGEN_ARGS…: one fan-out; perf starts once streams are open and publishing
# has begun (opening and settling take about 10 s at 15,000 streams).
profile() {
  local name=$1 pids=$2
  shift 2
  (sleep "${PERF_DELAY:-13}"; perf record -q -F 1999 -g -p "$pids" -o "$BENCH_DIR/$name.perf" \
    -- sleep "$PERF_SECONDS" >/dev/null 2>&1) &
  local recorder=$!
  target/release/loadgen "$@" --label "profile $name" fanout --clients "$CLIENTS" \
    --channels "$CHANNELS" --rate 2000 --events "$EVENTS" | grep '^{"loadgen":' >"$BENCH_DIR/$name.json"
  wait "$recorder"
  perf report -i "$BENCH_DIR/$name.perf" --no-children --sort dso --stdio -g none 2>/dev/null \
    >"$BENCH_DIR/$name.dso"
  perf report -i "$BENCH_DIR/$name.perf" --children --sort symbol --stdio -g none 2>/dev/null \
    >"$BENCH_DIR/$name.symbols"
}

start_redis GW_REDIS
start_gateway GW "$GW_REDIS_PORT"
log "gateway: $CLIENTS streams, $CHANNELS channels, $EVENTS events"
profile gateway "$GW_PID" --target gateway --url "http://127.0.0.1:$GW_PORT" \
  --redis-url "redis://127.0.0.1:$GW_REDIS_PORT" --server-pid "$GW_PID" --redis-pid "$GW_REDIS_PID"
kill "$GW_PID" "$GW_REDIS_PID" 2>/dev/null || true

start_redis NC_REDIS
start_nchan NC "$NC_REDIS_PORT"
sleep 0.5
NC_WORKERS=$(pgrep -P "$NC_PID" | paste -sd,)
log "nchan: the same"
profile nchan "$NC_WORKERS" --target nchan --url "http://127.0.0.1:$NC_PORT" \
  --redis-url "redis://127.0.0.1:$NC_REDIS_PORT" --redis-pid "$NC_REDIS_PID"

python3 - "$BENCH_DIR" <<'EOF'
import json, re, sys

def share(path, pattern):
    """Percentage of the first perf report line whose symbol or dso matches `pattern`."""
    for line in open(path):
        if re.search(pattern, line):
            return float(line.split('%')[0].split()[0]) / 100
    return 0.0

rows = {}
for name in ('gateway', 'nchan'):
    run = json.load(open(f'{sys.argv[1]}/{name}.json'))
    server = run['server_cpu_per_million']
    kernel = share(f'{sys.argv[1]}/{name}.dso', r'\[kernel')
    client = share(f'{sys.argv[1]}/{name}.symbols', r'\] net_rx_action\b')
    rows[name] = {
        'server user space': server * (1 - kernel),
        'server kernel, own side': server * (kernel - client),
        "server kernel, the client's loopback receive": server * client,
        'Redis': run['redis_cpu_per_million'],
    }
print("\nCPU seconds per million deliveries")
print('| | gateway | nchan |\n|---|---|---|')
for key in rows['gateway']:
    print(f"| {key} | {rows['gateway'][key]:.2f} | {rows['nchan'][key]:.2f} |")
total = {n: sum(r.values()) for n, r in rows.items()}
own = {n: total[n] - r["server kernel, the client's loopback receive"] for n, r in rows.items()}
print(f"| total | {total['gateway']:.2f} | {total['nchan']:.2f} |")
print(f"\ndeliveries per CPU-second, gateway / nchan: {total['nchan'] / total['gateway']:.2f} as measured, "
      f"{own['nchan'] / own['gateway']:.2f} without the clients' loopback receive")
EOF
