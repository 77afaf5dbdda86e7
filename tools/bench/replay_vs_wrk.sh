#!/usr/bin/env bash
# Issue 3, targets (6) and (7): `loadgen replay --speed max` against wrk on the same stub, same
# endpoint family, same concurrency, alternated within one session, on this machine.
#
# Per round and per concurrency C (default 10 and 50), in alternating order:
#   * wrk-order: -cC for WRK_SECONDS, POST /triples/batch?validate=true with a captured 4-line
#     order (tools/bench/post_order.lua, tools/bench/order_body.json; 4.3 kB per request);
#   * wrk-mix: -cC for WRK_SECONDS, cycling through every 10th request loadgen sends for the
#     same trace (tools/bench/request_mix.lua): the same methods, paths and body sizes as
#     loadgen's, so the stub does the same work per request;
#   * loadgen: `replay stress-3h.trace --speed max --concurrency C --report R.json`;
#     requests/s = R.json `requests` / `duration_s`.
# The mix is captured once (about 3 minutes) by replaying the trace into
# tools/bench/capture_bodies.py, a recording HTTP server on 127.0.0.1.
# Each measurement gets a fresh stub (no latency, no capacity limit) so that the store's size
# is the same at the start of every run. Recorded per run: client requests/s, client CPU
# (user+sys from /usr/bin/time -v, with max RSS), and the stub's CPU (utime+stime from
# /proc/PID/stat, sampled before the client starts and after it ends).
#
# Everything talks to 127.0.0.1 only; every wait is bounded. Output: a CSV on stdout and in
# $OUT/replay_vs_wrk.csv, then a summary (medians) per tool and concurrency.
#
#   tools/bench/replay_vs_wrk.sh                 # 3 rounds x {10, 50}
#   ROUNDS=5 CONCURRENCY="10 50 200" tools/bench/replay_vs_wrk.sh
#
# Knobs (environment): OUT (/tmp/loadgen-bench), PORT (18300), ROUNDS (3), CONCURRENCY
# ("10 50"), WRK_SECONDS (10), WRK_THREADS (1: as fast as 2 here), TRACE_DURATION (3h),
# REPORT (1: pass --report, which also turns on the checkpoint completion log; 0: read the
# console summary instead), LOADGEN and STUB (the binaries; default target/release/).
# LOADGEN_B: a second loadgen build, run in every round right after LOADGEN (tool
# `loadgen-b`), for before/after pairs. OHA (default: `oha` if on PATH, else none): oha
# posting the same order batch as wrk-order for WRK_SECONDS (tool `oha-order`).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-/tmp/loadgen-bench}
PORT=${PORT:-18300}
ROUNDS=${ROUNDS:-3}
CONCURRENCY=${CONCURRENCY:-"10 50"}
WRK_SECONDS=${WRK_SECONDS:-10}
WRK_THREADS=${WRK_THREADS:-1}
TRACE_DURATION=${TRACE_DURATION:-3h}
REPORT=${REPORT:-1}
LOADGEN=${LOADGEN:-$ROOT/target/release/loadgen}
LOADGEN_B=${LOADGEN_B:-}
OHA=${OHA:-$(command -v oha || true)}
STUB=${STUB:-$ROOT/target/release/freshmart-stub}
URL=http://127.0.0.1:$PORT
TICK=$(getconf CLK_TCK)
export BODY_FILE=$ROOT/tools/bench/order_body.json
export MIX_FILE=$OUT/mix.txt

mkdir -p "$OUT"
STUB_PID=
CAPTURE_PID=
trap 'for p in ${STUB_PID:-} ${CAPTURE_PID:-}; do kill -KILL "$p" 2>/dev/null || true; done' EXIT
if [[ ! -x $LOADGEN || ! -x $STUB ]]; then
    cargo build --release --workspace
fi
TRACE=$OUT/stress-$TRACE_DURATION.trace
if [[ ! -f $TRACE ]]; then
    "$LOADGEN" simulate --profile stress --duration "$TRACE_DURATION" -o "$TRACE" >&2
fi

# The request mix for wrk-mix: capture what loadgen sends for the trace, keep every 10th.
if [[ ! -s $MIX_FILE ]]; then
    echo "capturing loadgen's requests for $TRACE (once; a few minutes)" >&2
    rm -f "$OUT/mix.jsonl"
    python3 "$ROOT/tools/bench/capture_bodies.py" "$((PORT + 1))" "$OUT/mix.jsonl" 900 &
    CAPTURE_PID=$!
    sleep 1
    timeout 900 "$LOADGEN" replay "$TRACE" --api-url "http://127.0.0.1:$((PORT + 1))" \
        --speed max --concurrency 50 --run-id wrkmix >"$OUT/capture.out" 2>&1
    kill -TERM "$CAPTURE_PID"
    wait "$CAPTURE_PID" || true
    CAPTURE_PID=
    python3 - "$OUT/mix.jsonl" "$MIX_FILE" <<'EOF'
import json, sys
with open(sys.argv[2], "wb") as out:
    for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
        if i % 10:
            continue
        r = json.loads(line)
        body = (r["body"] or "").encode()
        out.write(f"{r['method']} {r['path']} {len(body)}\n".encode() + body + b"\n")
EOF
    rm -f "$OUT/mix.jsonl"
fi

# shellcheck source=tools/bench/stub_lifecycle.sh
source "$ROOT/tools/bench/stub_lifecycle.sh"
# utime + stime of a process, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# user + sys seconds and max RSS (kB) from a /usr/bin/time -v file.
time_cpu() { awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.2f", u+s}' "$1"; }
time_rss() { awk -F': ' '/Maximum resident/{print $2}' "$1"; }

CSV=$OUT/replay_vs_wrk.csv
echo "round,tool,concurrency,requests,duration_s,rps,client_cpu_s,client_us_per_req,client_maxrss_kb,stub_cpu_s,stub_us_per_req,failures" | tee "$CSV"

run_wrk() { # round C name script
    local round=$1 c=$2 name=$3 script=$4 t=$WRK_THREADS
    ((t > c)) && t=$c
    start_stub
    local before after
    before=$(ticks "$STUB_PID")
    timeout $((WRK_SECONDS + 30)) /usr/bin/time -v -o "$OUT/wrk.time" \
        wrk -t"$t" -c"$c" -d"${WRK_SECONDS}s" -s "$ROOT/tools/bench/$script" "$URL" \
        >"$OUT/wrk.out" 2>&1
    after=$(ticks "$STUB_PID")
    stop_stub
    local line req dur rps err cpu
    line=$(grep '^wrk_requests=' "$OUT/wrk.out")
    req=$(sed -E 's/.*wrk_requests=([0-9]+).*/\1/' <<<"$line")
    dur=$(sed -E 's/.*wrk_duration_s=([0-9.]+).*/\1/' <<<"$line")
    rps=$(sed -E 's/.*wrk_rps=([0-9.]+).*/\1/' <<<"$line")
    err=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
    cpu=$(time_cpu "$OUT/wrk.time")
    awk -v r="$round" -v c="$c" -v req="$req" -v dur="$dur" -v rps="$rps" -v cpu="$cpu" \
        -v name="$name" -v rss="$(time_rss "$OUT/wrk.time")" -v st=$((after - before)) -v tick="$TICK" -v err="$err" \
        'BEGIN{s=st/tick; printf "%s,%s,%s,%d,%.3f,%.0f,%.2f,%.1f,%s,%.2f,%.1f,%s\n",
               r,name,c,req,dur,rps,cpu,cpu*1e6/req,rss,s,s*1e6/req,err}' | tee -a "$CSV"
}

run_oha() { # round C
    local round=$1 c=$2
    start_stub
    local before after
    before=$(ticks "$STUB_PID")
    timeout $((WRK_SECONDS + 30)) /usr/bin/time -v -o "$OUT/oha.time" \
        "$OHA" -z "${WRK_SECONDS}s" -c "$c" -m POST -H "content-type: application/json" \
        -D "$BODY_FILE" --no-tui --output-format json "$URL/triples/batch?validate=true" \
        >"$OUT/oha.json" 2>"$OUT/oha.err"
    after=$(ticks "$STUB_PID")
    stop_stub
    local req dur cpu
    req=$(jq '[.statusCodeDistribution[]] | add' "$OUT/oha.json")
    dur=$(jq .summary.total "$OUT/oha.json")
    cpu=$(time_cpu "$OUT/oha.time")
    awk -v r="$round" -v c="$c" -v req="$req" -v dur="$dur" -v cpu="$cpu" \
        -v rss="$(time_rss "$OUT/oha.time")" -v st=$((after - before)) -v tick="$TICK" \
        -v err="$(jq '.errorDistribution | [.[]] | add // 0' "$OUT/oha.json")" \
        'BEGIN{s=st/tick; printf "%s,oha-order,%s,%d,%.3f,%.0f,%.2f,%.1f,%s,%.2f,%.1f,%s\n",
               r,c,req,dur,req/dur,cpu,cpu*1e6/req,rss,s,s*1e6/req,err}' | tee -a "$CSV"
}

run_loadgen() { # round C [binary name]
    local round=$1 c=$2 bin=${3:-$LOADGEN} name=${4:-loadgen}
    start_stub
    local before after report=()
    if [[ $REPORT == 1 ]]; then
        rm -f "$OUT/replay.json" "$OUT/replay.json.checkpoint" "$OUT/replay.json.checkpoint.log"
        report=(--report "$OUT/replay.json")
    fi
    before=$(ticks "$STUB_PID")
    timeout 600 /usr/bin/time -v -o "$OUT/loadgen.time" \
        "$bin" replay "$TRACE" --api-url "$URL" --speed max --concurrency "$c" \
        --run-id "b${round}c$c$name" "${report[@]}" >"$OUT/loadgen.out" 2>&1
    after=$(ticks "$STUB_PID")
    stop_stub
    local req dur fail
    if [[ $REPORT == 1 ]]; then
        req=$(jq .requests "$OUT/replay.json")
        dur=$(jq .duration_s "$OUT/replay.json")
        fail=$(jq .events.failed "$OUT/replay.json")
    else
        # Console summary: "Requests: N (R retries)", "Total activities: E" and
        # "Throughput: T activities/min" (its "Duration" line is rounded to 0.1 min).
        req=$(awk '/^Requests:/{print $2}' "$OUT/loadgen.out")
        local events tput
        events=$(awk '/^Total activities:/{print $3}' "$OUT/loadgen.out")
        tput=$(awk '/^Throughput:/{print $2}' "$OUT/loadgen.out")
        dur=$(awk -v e="$events" -v t="$tput" 'BEGIN{printf "%.3f", e * 60 / t}')
        fail=?
    fi
    local cpu
    cpu=$(time_cpu "$OUT/loadgen.time")
    awk -v r="$round" -v c="$c" -v req="$req" -v dur="$dur" -v cpu="$cpu" \
        -v rss="$(time_rss "$OUT/loadgen.time")" -v st=$((after - before)) -v tick="$TICK" \
        -v fail="${fail:-?}" -v name="$name" \
        'BEGIN{s=st/tick; printf "%s,%s,%s,%d,%.3f,%.0f,%.2f,%.1f,%s,%.2f,%.1f,%s\n",
               r,name,c,req,dur,req/dur,cpu,cpu*1e6/req,rss,s,s*1e6/req,fail}' | tee -a "$CSV"
}

for round in $(seq 1 "$ROUNDS"); do
    for c in $CONCURRENCY; do
        loadgens() {
            if [[ -n $LOADGEN_B ]] && ((round % 2 == 0)); then
                run_loadgen "$round" "$c" "$LOADGEN_B" loadgen-b
                run_loadgen "$round" "$c"
            else
                run_loadgen "$round" "$c"
                if [[ -n $LOADGEN_B ]]; then run_loadgen "$round" "$c" "$LOADGEN_B" loadgen-b; fi
            fi
        }
        if ((round % 2)); then
            run_wrk "$round" "$c" wrk-order post_order.lua
            if [[ -n $OHA ]]; then run_oha "$round" "$c"; fi
            loadgens
            run_wrk "$round" "$c" wrk-mix request_mix.lua
        else
            run_wrk "$round" "$c" wrk-mix request_mix.lua
            loadgens
            if [[ -n $OHA ]]; then run_oha "$round" "$c"; fi
            run_wrk "$round" "$c" wrk-order post_order.lua
        fi
    done
done

echo
echo "medians over $ROUNDS rounds (min..max of requests/s in brackets)"
python3 - "$CSV" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for c in sorted({int(r["concurrency"]) for r in rows}):
    med = {}
    for tool in ("wrk-order", "oha-order", "wrk-mix", "loadgen", "loadgen-b"):
        rs = [r for r in rows if r["tool"] == tool and int(r["concurrency"]) == c]
        if not rs:
            continue
        rps = [float(r["rps"]) for r in rs]
        med[tool] = statistics.median(rps)
        print(f"C={c:<4} {tool:9} {med[tool]:9.0f} req/s [{min(rps):.0f}..{max(rps):.0f}]"
              f"  client {statistics.median(float(r['client_us_per_req']) for r in rs):6.1f} us/req"
              f"  stub {statistics.median(float(r['stub_us_per_req']) for r in rs):6.1f} us/req"
              f"  client max RSS {statistics.median(int(r['client_maxrss_kb']) for r in rs)/1024:.1f} MB")
    # Ratios per round (each run against the peer run of the same round), then their median.
    def per_round(a, b):
        ratios = []
        for rnd in sorted({r["round"] for r in rows}):
            x = [float(r["rps"]) for r in rows if r["round"] == rnd and r["tool"] == a and int(r["concurrency"]) == c]
            y = [float(r["rps"]) for r in rows if r["round"] == rnd and r["tool"] == b and int(r["concurrency"]) == c]
            if x and y:
                ratios.append(x[0] / y[0])
        return ratios
    for ours in ("loadgen", "loadgen-b"):
        for peer in ("wrk-order", "oha-order", "wrk-mix"):
            ratios = per_round(ours, peer)
            if ratios:
                print(f"C={c:<4} {ours} / {peer} = {statistics.median(ratios):.1%} per round: "
                      + ", ".join(f"{x:.1%}" for x in ratios))
EOF
