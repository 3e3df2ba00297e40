# Helpers shared by the benchmark scripts (sourced, not run): free ports, a redis-server, the
# gateway (release build) and Nchan, each started on loopback in a temporary directory and
# stopped by pid when the script exits.
# shellcheck shell=bash

BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sse-bench.XXXXXX")
BENCH_PIDS=()

bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${BENCH_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$BENCH_DIR"
}
trap bench_cleanup EXIT

log() { printf '== %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL [seconds]: until URL answers 2xx.
wait_http() {
  local url=$1 deadline=$((SECONDS + ${2:-30}))
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    if [ $SECONDS -gt $deadline ]; then echo "no answer from $url" >&2; return 1; fi
    sleep 0.1
  done
}

# start_redis VAR: a redis-server on a free port; sets VAR_PORT and VAR_PID.
start_redis() {
  local var=$1 port dir
  port=$(free_port)
  dir="$BENCH_DIR/redis-$port"
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
    --maxclients 10000 >"$dir/log" 2>&1 &
  BENCH_PIDS+=($!)
  printf -v "${var}_PORT" '%s' "$port"
  printf -v "${var}_PID" '%s' "$!"
  local deadline=$((SECONDS + 10))
  until [ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ]; do
    if [ $SECONDS -gt $deadline ]; then echo "redis-server on $port did not start" >&2; return 1; fi
    sleep 0.05
  done
}

# start_gateway VAR REDIS_PORT [ENV=VALUE…]: the release gateway; sets VAR_PORT and VAR_PID.
start_gateway() {
  local var=$1 redis_port=$2 port admin
  shift 2
  port=$(free_port)
  admin=$(free_port)
  # The load generator plays thousands of clients from a few loopback addresses: no limit on
  # streams opened per address.
  env REDIS_URL="redis://127.0.0.1:$redis_port" HTTP_ADDR="127.0.0.1:$port" \
    ADMIN_ADDR="127.0.0.1:$admin" RUST_LOG=warn DRAIN_DELAY=0s POD_NAME="bench-$port" \
    CONNECT_RATE_PER_ADDRESS=0 "$@" \
    "${GATEWAY_BIN:-target/release/sse-gateway}" >"$BENCH_DIR/gateway-$port.log" 2>&1 &
  BENCH_PIDS+=($!)
  printf -v "${var}_PORT" '%s' "$port"
  printf -v "${var}_PID" '%s' "$!"
  wait_http "http://127.0.0.1:$admin/readyz"
}

# install_nchan: nginx and its Nchan module from Debian, when missing.
install_nchan() {
  if ! dpkg -s nginx libnginx-mod-nchan >/dev/null 2>&1; then
    log "installing nginx and libnginx-mod-nchan"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nginx libnginx-mod-nchan
  fi
}

# start_nchan VAR REDIS_PORT: nginx with Nchan (its own config, one worker per core), Redis
# backed (history in Redis, as ours), an EventSource subscriber at /sub/<channel> and an HTTP
# publisher at /pub/<channel>; sets VAR_PORT and VAR_PID (the master).
start_nchan() {
  local var=$1 redis_port=$2 port dir
  port=$(free_port)
  dir="$BENCH_DIR/nchan-$port"
  mkdir -p "$dir/tmp"
  chmod -R a+rwx "$dir"
  cat >"$dir/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
worker_processes $(nproc);
worker_rlimit_nofile 20000;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 19500; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  upstream bench_redis { nchan_redis_server redis://127.0.0.1:$redis_port; }
  # The same history as the gateway's defaults: 1000 events per channel, kept an hour.
  nchan_message_buffer_length 1000;
  nchan_message_timeout 1h;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location ~ ^/sub/(.+)\$ {
      nchan_subscriber eventsource;
      # A keep-alive on every stream every 30 s, like the gateway's HEARTBEAT_INTERVAL.
      nchan_eventsource_ping_interval 30;
      nchan_channel_id \$1;
      nchan_redis_pass bench_redis;
    }
    location ~ ^/pub/(.+)\$ {
      nchan_publisher;
      nchan_channel_id \$1;
      nchan_redis_pass bench_redis;
    }
  }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/stdout" 2>&1 &
  BENCH_PIDS+=($!)
  printf -v "${var}_PORT" '%s' "$port"
  printf -v "${var}_PID" '%s' "$!"
  local deadline=$((SECONDS + 10))
  until curl -s -o /dev/null "http://127.0.0.1:$port/pub/ready"; do
    if [ $SECONDS -gt $deadline ]; then cat "$dir/error.log" >&2; return 1; fi
    sleep 0.1
  done
}

# machine: one line per fact, for the results.
machine() {
  echo "cores: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "redis: $(redis-server --version | awk '{print $3}' | cut -d= -f2)"
  if command -v nginx >/dev/null; then
    echo "nginx: $(nginx -v 2>&1 | cut -d/ -f2), nchan: $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null)"
  fi
  echo "rustc: $(rustc --version | awk '{print $2}')"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}
