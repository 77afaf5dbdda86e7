#!/usr/bin/env bash
# Issue 13: a whole stress day through `loadgen simulate` against writing the same number of
# 13-byte records with a buffered C loop (write_records.c), alternated in one hyperfine run.
# The C loop runs twice: plain (fopen, fwrite, fclose), and with --atomic, the output work
# `simulate -o FILE` does as well (a temporary file, fsync, rename over the target).
# Env: LOADGEN (default target/release/loadgen), BEFORE (optional: a second loadgen binary,
# timed in the same run), OUT (scratch dir, default /tmp/loadgen-bench), RUNS (default 20).
# Prints hyperfine's summary and `uptime`; the JSON lands in $OUT.
set -euo pipefail
LOADGEN=${LOADGEN:-target/release/loadgen}
BEFORE=${BEFORE:-}
OUT=${OUT:-/tmp/loadgen-bench}
RUNS=${RUNS:-20}
mkdir -p "$OUT"
cc -O2 -o "$OUT/write_records" "$(dirname "$0")/write_records.c"
events=$("$LOADGEN" simulate --profile stress --duration 24h -o "$OUT/stress24h.trace" 2>&1 |
    sed -n 's/^Wrote \([0-9]*\) events.*/\1/p')
echo "stress day: $events events"
commands=()
if [ -n "$BEFORE" ]; then
    commands+=("$BEFORE simulate --profile stress --duration 24h -o $OUT/before.trace")
fi
commands+=(
    "$LOADGEN simulate --profile stress --duration 24h -o $OUT/x.trace"
    "$OUT/write_records $events $OUT/records.bin"
    "$OUT/write_records --atomic $events $OUT/records-atomic.bin"
)
uptime
hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$OUT/simulate_vs_write.json" "${commands[@]}"
uptime
