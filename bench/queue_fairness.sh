#!/usr/bin/env bash
# Jobs per second of one worker (text résumés, concurrency = cores), the queue where
# organisations take turns (this tree) against FIFO (BASE_REF, default main), with the jobs of
# one organisation and spread over 100, builds alternating in one run. The driver is this
# tree's resume-worker example job_throughput, built against both trees. Not run in CI.
#
#   bash bench/queue_fairness.sh     (JOBS=2000 per run, ROUNDS=3, BASE_REF=main)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

JOBS=${JOBS:-2000}
ROUNDS=${ROUNDS:-3}
BASE_REF=${BASE_REF:-main}
TARGET=${CARGO_TARGET_DIR:-target}
case "$TARGET" in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac
OUT="$TARGET/bench"
mkdir -p "$OUT"

log "building the base ($BASE_REF) and this tree (release)"
BASE_SRC="$BENCH_DIR/base"
mkdir -p "$BASE_SRC"
git archive "$BASE_REF" | tar -x -C "$BASE_SRC"
cp services/resume-worker/examples/job_throughput.rs "$BASE_SRC/services/resume-worker/examples/"
(cd "$BASE_SRC" && CARGO_TARGET_DIR="$TARGET" cargo build --release -p resume-worker \
  --example job_throughput 2>&1 | tail -1 >&2)
cp "$TARGET/release/examples/job_throughput" "$OUT/job_throughput-base"
cargo build --release -p resume-worker --example job_throughput 2>&1 | tail -1 >&2
cp "$TARGET/release/examples/job_throughput" "$OUT/job_throughput-turns"

machine
declare -A RESULTS
for round in $(seq "$ROUNDS"); do
  for organisations in 1 100; do
    for build in base turns; do
      line=$("$OUT/job_throughput-$build" "$JOBS" "$organisations" text | tail -1)
      jobs_s=$(echo "$line" | awk -F'|' '{gsub(/ /, "", $5); print $5}')
      log "round $round, $organisations organisation(s), $build: $jobs_s jobs/s"
      RESULTS[$build-$organisations]+="$jobs_s "
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| organisations | FIFO ($BASE_REF): jobs/s | organisations take turns: jobs/s | change |"
echo "|---|---|---|---|"
for organisations in 1 100; do
  base=${RESULTS[base-$organisations]}
  turns=${RESULTS[turns-$organisations]}
  mb=$(echo "$base" | median)
  mt=$(echo "$turns" | median)
  change=$(awk -v b="$mb" -v t="$mt" 'BEGIN {printf "%+.0f %%", (t - b) / b * 100}')
  echo "| $organisations | $mb (${base% }) | $mt (${turns% }) | $change |"
done
