#!/usr/bin/env bash
# Property-based API check: schemathesis (PyPI) generates a few hundred requests from the
# gateway's own /api/v1/openapi.json and sends them to a running gateway (AUTH_MODE=jwt, its
# own redis-server): no answer may be a 5xx, every answer must match the documented status,
# content type and schema. The endless SSE stream is left out (its first frame is covered by
# the integration tests). One worker: Python 3.11's parser is not safe across threads, and
# the tool parses source while it generates cases. Installs schemathesis into
# .ci/.venv-schemathesis when missing.
#   bash .ci/schemathesis.sh            # after `cargo build -p sse-gateway`
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.ci/.venv-schemathesis
TOOL="schemathesis==4.32.5"
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-25}
started=$SECONDS

if [ ! -x "$VENV/bin/schemathesis" ] || [ "$(cat "$VENV/.tools" 2>/dev/null)" != "$TOOL" ]; then
  python3 -c 'import ensurepip, venv' 2>/dev/null || {
    [ "$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  }
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "$TOOL"
  echo "$TOOL" > "$VENV/.tools"
fi
echo '*' > "$VENV/.gitignore"

cargo build -q -p sse-gateway --all-features
BIN=${CARGO_TARGET_DIR:-target}/debug/sse-gateway
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port); HTTP_PORT=$(free_port); ADMIN_PORT=$(free_port)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
pids+=($!)
SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
REDIS_URL=redis://127.0.0.1:$REDIS_PORT HTTP_ADDR=127.0.0.1:$HTTP_PORT ADMIN_ADDR=127.0.0.1:$ADMIN_PORT \
  AUTH_MODE=jwt JWT_SECRET=$SECRET JWT_AUDIENCE=resume-progress RATE_LIMIT_PER_SECOND=0 \
  LOG_FORMAT=json RUST_LOG=warn "$BIN" > "$work/gateway.log" 2>&1 &
pids+=($!)
answers() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null; }
for _ in $(seq 100); do
  answers "http://127.0.0.1:$ADMIN_PORT/readyz" && break
  sleep 0.1
done
answers "http://127.0.0.1:$ADMIN_PORT/readyz" || { cat "$work/gateway.log"; exit 1; }

# A token with every role, for one organisation (HS256 with the standard library).
TOKEN=$(SECRET=$SECRET python3 - <<'PY'
import base64, hmac, hashlib, json, os, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
claims = b64(json.dumps({"sub": "schemathesis", "org": "org-st", "aud": "resume-progress",
    "roles": ["monitor", "publisher"], "exp": int(time.time()) + 3600}).encode())
signature = hmac.new(os.environ["SECRET"].encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
print(f"{header}.{claims}.{b64(signature)}")
PY
)

status=0
"$VENV/bin/schemathesis" run "http://127.0.0.1:$HTTP_PORT/api/v1/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --exclude-path /api/v1/sse/connect \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$EXAMPLES" --seed 7 --workers 1 --request-timeout 10 \
  --suppress-health-check all --no-color --report junit --report-dir "$work/report" || status=$?
if [ "$status" != 0 ]; then
  echo "schemathesis found problems (gateway log below)" >&2
  tail -50 "$work/gateway.log" >&2
  exit "$status"
fi
answers "http://127.0.0.1:$ADMIN_PORT/livez" || { echo "the gateway died" >&2; exit 1; }
echo "schemathesis: passed in $((SECONDS - started)) s"
