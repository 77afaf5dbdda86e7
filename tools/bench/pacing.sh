#!/usr/bin/env bash
# Issue 3, target (8): schedule lateness when pacing about 2,000 events/s below saturation.
#
# Two traces, each replayed ROUNDS times against a fresh stub (no latency) on 127.0.0.1:
#   * flat:  tools/bench/pace-2k.toml, 30 s of trace replayed at 1x: 60,043 events, 1,915 to
#            2,090 per second of trace (arrivals only: new orders, customers, inventory
#            updates, modifications);
#   * ramp:  the stress profile's first two hours (a full lifecycle mix) at SPEED_RAMP (166x),
#            about 43 s: on average 2,000 events/s, ramping from about 930 to 2,500 per second
#            as the orders' status transitions start.
# Printed per run: events, wall seconds, events/s, lateness p50/p99/p99.9/max (ms), service
# time p99, client user+sys per request, failures. Also written to $OUT/pacing.csv.
#
#   tools/bench/pacing.sh                    # 5 rounds of each
#
# Knobs: OUT (/tmp/loadgen-bench), PORT (18300), ROUNDS (5), SPEED_RAMP (166), LOADGEN, STUB.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-/tmp/loadgen-bench}
PORT=${PORT:-18300}
ROUNDS=${ROUNDS:-5}
SPEED_RAMP=${SPEED_RAMP:-166}
LOADGEN=${LOADGEN:-$ROOT/target/release/loadgen}
STUB=${STUB:-$ROOT/target/release/freshmart-stub}
URL=http://127.0.0.1:$PORT

mkdir -p "$OUT"
STUB_PID=
trap 'if [[ -n $STUB_PID ]]; then kill -KILL "$STUB_PID" 2>/dev/null || true; fi' EXIT
if [[ ! -x $LOADGEN || ! -x $STUB ]]; then
    cargo build --release --workspace
fi
FLAT=$OUT/pace-2k-30s.trace
RAMP=$OUT/stress-3h.trace
[[ -f $FLAT ]] || "$LOADGEN" simulate --profile-file "$ROOT/tools/bench/pace-2k.toml" \
    --duration 30s -o "$FLAT" >&2
[[ -f $RAMP ]] || "$LOADGEN" simulate --profile stress --duration 3h -o "$RAMP" >&2

start_stub() {
    "$STUB" --addr "127.0.0.1:$PORT" >"$OUT/stub.out" 2>&1 &
    STUB_PID=$!
    for _ in $(seq 1 100); do
        if curl -sf "$URL/health" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "stub did not come up on $URL" >&2
    exit 1
}
stop_stub() {
    kill -INT "$STUB_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$STUB_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$STUB_PID" 2>/dev/null || true
    wait "$STUB_PID" 2>/dev/null || true
    STUB_PID=
}

CSV=$OUT/pacing.csv
echo "round,trace,speed,events,duration_s,events_per_s,lateness_p50_ms,lateness_p99_ms,lateness_p999_ms,lateness_max_ms,service_p99_ms,client_us_per_req,failed" | tee "$CSV"
run() { # round name trace speed [extra args]
    local round=$1 name=$2 trace=$3 speed=$4
    shift 4
    start_stub
    rm -f "$OUT/pace.json" "$OUT/pace.json.checkpoint" "$OUT/pace.json.checkpoint.log"
    timeout 300 /usr/bin/time -v -o "$OUT/pace.time" "$LOADGEN" replay "$trace" --api-url "$URL" \
        --speed "$speed" --run-id "p$round$name" --report "$OUT/pace.json" "$@" >"$OUT/pace.out" 2>&1
    stop_stub
    local cpu
    cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{print u+s}' "$OUT/pace.time")
    jq -r --arg r "$round" --arg n "$name" --arg s "$speed" --argjson cpu "$cpu" '[
        $r, $n, $s, .events.completed, (.duration_s * 1000 | round / 1000),
        (.events.completed / .duration_s | round), .lateness.p50_ms, .lateness.p99_ms,
        .lateness.p999_ms, .lateness.max_ms, .service_time.p99_ms,
        ($cpu * 1e6 / .requests * 10 | round / 10), .events.failed] | @csv' "$OUT/pace.json" |
        tr -d '"' | tee -a "$CSV"
}
for round in $(seq 1 "$ROUNDS"); do
    run "$round" flat "$FLAT" 1x
    run "$round" ramp "$RAMP" "${SPEED_RAMP}x" --to 11:00
done
