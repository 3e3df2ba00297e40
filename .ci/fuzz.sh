#!/usr/bin/env bash
# Fuzz smoke run: builds the cargo-fuzz targets in services/fuzz/ and runs each for FUZZ_SECONDS
# (default 20) from its seeds in services/fuzz/seeds/<target>. Any crash fails the run and leaves its
# input in target/fuzz-artifacts/<target>/ (make it a regression test, see
# docs/operations.md, "Fuzzing and hostile input"). The stable toolchain takes cargo-fuzz's
# sanitizer flags with RUSTC_BOOTSTRAP=1. Run from anywhere:
#   bash .ci/fuzz.sh                      # all targets
#   FUZZ_SECONDS=600 bash .ci/fuzz.sh resume_pdf
# FUZZ_BUILD selects the build: `release` (default: optimised, AddressSanitizer) or `smoke`
# (unoptimised, no sanitizer: builds in a fraction of the time, for CI).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${FUZZ_SECONDS:-20}
CARGO_FUZZ_VERSION=0.13.2
TARGETS=(sse_frame last_event_id request_validators resume_pdf resume_docx resume_text)
[ $# -gt 0 ] && TARGETS=("$@")
case "${FUZZ_BUILD:-release}" in
  release) FLAGS=(-O); export CARGO_TARGET_DIR=$PWD/target/fuzz ;;
  smoke) FLAGS=(--dev --sanitizer none); export CARGO_TARGET_DIR=$PWD/target/fuzz-smoke ;;
  *) echo "FUZZ_BUILD must be release or smoke" >&2; exit 2 ;;
esac
export RUSTC_BOOTSTRAP=1
started=$SECONDS

if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
# libFuzzer is C++, built by libfuzzer-sys.
if ! command -v c++ >/dev/null; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq g++ >/dev/null
fi

cargo fuzz build --fuzz-dir services/fuzz "${FLAGS[@]}"
echo "fuzz targets built in $((SECONDS - started)) s"
for target in "${TARGETS[@]}"; do
  corpus=target/fuzz-corpus/$target
  artifacts=target/fuzz-artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  log=$(mktemp)
  if ! cargo fuzz run --fuzz-dir services/fuzz "${FLAGS[@]}" "$target" "$corpus" "services/fuzz/seeds/$target" -- \
      -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 > "$log" 2>&1; then
    tail -60 "$log" >&2
    echo "FUZZ CRASH in $target: input in $artifacts/" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  echo "fuzz $target: $runs inputs in ${SECONDS_EACH} s, no crash"
  rm -f "$log"
done
echo "fuzz smoke run passed in $((SECONDS - started)) s"
