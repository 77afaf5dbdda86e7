#!/usr/bin/env bash
# Issue 3, target (9): loadgen's memory against the length of the trace it replays.
#
# Traces of the high-rate profile tools/bench/mem-20k.toml (20,000 orders/min) cut at DURATIONS
# (default 25m 42m 80m 130m: about 1, 2, 5 and 10 million events), each replayed once at
# --speed max --concurrency 50 against SERVER:
#   * sink (default): tools/bench/sink.js, which answers every write and stores nothing, so a
#     10-million-event replay fits on a small machine (the stub keeps every triple, about
#     4.5 kB per order: 10 million events would take it past 10 GB);
#   * stub: tools/freshmart-stub, for the shorter traces.
# Recorded: events and requests from the JSON report, wall time, loadgen's user+sys and max RSS
# (/usr/bin/time -v), and loadgen's VmRSS sampled every 5 s ($OUT/rss-<duration>-<server>.txt).
# Every run is bounded by `timeout` (TIMEOUT, default 1200 s).
#
#   tools/bench/replay_memory.sh
#   SERVER=stub DURATIONS="25m 42m" tools/bench/replay_memory.sh
#
# Knobs: OUT (/tmp/loadgen-bench), PORT (18310), SERVER (sink), DURATIONS, TIMEOUT, LOADGEN, STUB.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-/tmp/loadgen-bench}
PORT=${PORT:-18310}
SERVER=${SERVER:-sink}
DURATIONS=${DURATIONS:-"25m 42m 80m 130m"}
TIMEOUT=${TIMEOUT:-1200}
LOADGEN=${LOADGEN:-$ROOT/target/release/loadgen}
STUB=${STUB:-$ROOT/target/release/freshmart-stub}
URL=http://127.0.0.1:$PORT

mkdir -p "$OUT"
SERVER_PID=
trap 'if [[ -n $SERVER_PID ]]; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi' EXIT
if [[ ! -x $LOADGEN || ! -x $STUB ]]; then
    cargo build --release --workspace
fi

start_server() {
    case $SERVER in
        sink) node "$ROOT/tools/bench/sink.js" "$PORT" "$((TIMEOUT + 60))" >"$OUT/server.out" 2>&1 & ;;
        stub) "$STUB" --addr "127.0.0.1:$PORT" >"$OUT/server.out" 2>&1 & ;;
        *) echo "SERVER is sink or stub" >&2; exit 2 ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        if curl -sf "$URL/health" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "$SERVER did not come up on $URL" >&2
    exit 1
}
stop_server() {
    local hwm
    hwm=$(awk '/VmHWM/{print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo "?")
    kill -INT "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    echo "$hwm"
}

CSV=$OUT/replay_memory-$SERVER.csv
echo "server,duration,events,requests,wall_s,requests_per_s,client_cpu_s,client_us_per_req,client_maxrss_kb,server_peak_rss_kb,failed" | tee "$CSV"
for d in $DURATIONS; do
    trace=$OUT/mem-20k-$d.trace
    [[ -f $trace ]] || "$LOADGEN" simulate --profile-file "$ROOT/tools/bench/mem-20k.toml" \
        --duration "$d" -o "$trace" >&2
    start_server
    rm -f "$OUT/mem.json" "$OUT/mem.json.checkpoint" "$OUT/mem.json.checkpoint.log"
    samples=$OUT/rss-$d-$SERVER.txt
    : >"$samples"
    timeout "$TIMEOUT" /usr/bin/time -v -o "$OUT/mem.time" "$LOADGEN" replay "$trace" \
        --api-url "$URL" --speed max --concurrency 50 --run-id "m$d" --report "$OUT/mem.json" \
        >"$OUT/mem.out" 2>&1 &
    timed=$!
    # Sample the loadgen process (timeout -> time -> loadgen) while it runs.
    sleep 1
    lg=
    comm=$(basename "$LOADGEN" | cut -c1-15)
    for p in $(pgrep -f -- "--run-id m$d " || true); do
        if [[ $(cat "/proc/$p/comm" 2>/dev/null) == "$comm" ]]; then lg=$p; fi
    done
    for _ in $(seq 1 $((TIMEOUT / 5))); do
        kill -0 "$timed" 2>/dev/null || break
        if [[ -n $lg ]]; then
            echo "$(date +%s) $(awk '/VmRSS/{print $2}' "/proc/$lg/status" 2>/dev/null)" >>"$samples"
        fi
        sleep 5
    done
    wait "$timed" || true
    server_hwm=$(stop_server)
    cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{print u+s}' "$OUT/mem.time")
    rss=$(awk -F': ' '/Maximum resident/{print $2}' "$OUT/mem.time")
    jq -r --arg s "$SERVER" --arg d "$d" --argjson cpu "$cpu" --argjson rss "$rss" \
        --arg shwm "$server_hwm" '[$s, $d, .events.completed, .requests,
        (.duration_s * 10 | round / 10), (.requests / .duration_s | round), $cpu,
        ($cpu * 1e6 / .requests * 10 | round / 10), $rss, $shwm, .events.failed] | @csv' \
        "$OUT/mem.json" | tr -d '"' | tee -a "$CSV"
done
