#!/usr/bin/env bash
# A live stream's delivery latency through the common proxies, with the settings
# docs/operations.md gives and without them: HAProxy 2.6 (Debian) in HTTP mode with and
# without `option http-no-delay`, nginx as a plain reverse proxy (the gateway's
# `X-Accel-Buffering: no` turns its buffering off) and with `proxy_buffering on` forced by
# `proxy_ignore_headers X-Accel-Buffering`, and the gateway directly. 50 streams, 50 events
# per second for 10 s each, published straight to the gateway; the streams read through the
# proxy (bench/hostile_sockets.py without attacking sockets). Installs haproxy and nginx
# when missing. About a minute; not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

for pkg in haproxy nginx; do
  if ! command -v "$pkg" >/dev/null; then
    log "installing $pkg"
    [ "$(id -u)" = 0 ] && sudo="" || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$pkg" >/dev/null
  fi
done
log "building (release)"
cargo build --release -p sse-gateway --bins 2>&1 | tail -1 >&2
machine
start_redis GW_REDIS
start_gateway GW "$GW_REDIS_PORT"
GW="http://127.0.0.1:$GW_PORT"

start_haproxy() { # VAR OPTIONS…
  local var=$1 port dir
  shift
  port=$(free_port)
  dir="$BENCH_DIR/haproxy-$port"
  mkdir -p "$dir"
  {
    printf 'global\n  maxconn 4000\ndefaults\n  mode http\n'
    printf '  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n'
    for option in "$@"; do printf '  option %s\n' "$option"; done
    printf 'frontend front\n  bind 127.0.0.1:%s\n  default_backend gateway\n' "$port"
    printf 'backend gateway\n  server gw 127.0.0.1:%s\n' "$GW_PORT"
  } >"$dir/haproxy.cfg"
  haproxy -f "$dir/haproxy.cfg" -db >"$dir/log" 2>&1 &
  BENCH_PIDS+=($!)
  printf -v "${var}_PORT" '%s' "$port"
  sleep 0.5
}

start_nginx() { # VAR EXTRA-DIRECTIVES
  local var=$1 extra=$2 port dir
  port=$(free_port)
  dir="$BENCH_DIR/nginx-$port"
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<NGINX
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4000; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass $GW;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 1h;
      $extra
    }
  }
}
NGINX
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/stdout" 2>&1 &
  BENCH_PIDS+=($!)
  printf -v "${var}_PORT" '%s' "$port"
  sleep 0.5
}

measure() { # LABEL URL
  log "$1"
  python3 bench/hostile_sockets.py --url "$2" --publish-url "$GW" --pid "$GW_PID" \
    --idle 0 --trickle 0 --posts 0 --live 50 --rate 50 --seconds 10 | grep '^live'
}

start_haproxy HA_PLAIN
start_haproxy HA_NODELAY http-no-delay
start_nginx NG_PLAIN ""
start_nginx NG_BUFFERED "proxy_buffering on; proxy_ignore_headers X-Accel-Buffering;"
measure "direct" "$GW"
measure "haproxy, http mode" "http://127.0.0.1:$HA_PLAIN_PORT"
measure "haproxy, http mode, option http-no-delay" "http://127.0.0.1:$HA_NODELAY_PORT"
measure "nginx, proxy_pass (X-Accel-Buffering: no from the gateway)" "http://127.0.0.1:$NG_PLAIN_PORT"
measure "nginx, buffering forced on" "http://127.0.0.1:$NG_BUFFERED_PORT"
