#!/usr/bin/env bash
# Issue 9: what pacing costs a peer on this machine. oha (`cargo install oha`) posts the same
# order batch as tools/bench/replay_vs_wrk.sh's oha-order, RATE requests a second for SECONDS
# (`-q RATE`: oha's own pacer), and then the same number of requests unpaced (`-n`), at the same
# concurrency, each against a fresh freshmart-stub (no latency) on 127.0.0.1. Printed per run:
# requests, wall seconds, the client's user and system seconds, voluntary context switches
# (/usr/bin/time -v) and CPU per request; then per round the paced ÷ unpaced CPU per request,
# the ratio tools/bench/pacing.sh prints for loadgen (`CPU 1x / max`).
#
#   tools/bench/peer_pacing.sh                  # 3 rounds, 2,000 requests/s for 30 s, C = 64
#
# Knobs: OUT (/tmp/loadgen-bench), PORT (18320), ROUNDS (3), RATE (2000), SECONDS_PACED (30),
# CONCURRENCY (64), OHA (oha on PATH), STUB.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-/tmp/loadgen-bench}
PORT=${PORT:-18320}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-2000}
SECONDS_PACED=${SECONDS_PACED:-30}
CONCURRENCY=${CONCURRENCY:-64}
OHA=${OHA:-$(command -v oha || true)}
STUB=${STUB:-$ROOT/target/release/freshmart-stub}
URL=http://127.0.0.1:$PORT
BODY_FILE=$ROOT/tools/bench/order_body.json
if [[ -z $OHA ]]; then
    echo "oha not found: cargo install oha, or set OHA" >&2
    exit 2
fi
mkdir -p "$OUT"
STUB_PID=
trap 'if [[ -n $STUB_PID ]]; then kill -KILL "$STUB_PID" 2>/dev/null || true; fi' EXIT
# shellcheck source=tools/bench/stub_lifecycle.sh
source "$ROOT/tools/bench/stub_lifecycle.sh"

CSV=$OUT/peer_pacing.csv
echo "round,mode,requests,wall_s,user_s,sys_s,voluntary_switches,cpu_us_per_req" | tee "$CSV"
run() { # round mode oha-args...
    local round=$1 mode=$2
    shift 2
    start_stub
    timeout $((SECONDS_PACED + 60)) /usr/bin/time -v -o "$OUT/peer.time" \
        "$OHA" "$@" -c "$CONCURRENCY" -m POST -H "content-type: application/json" \
        -D "$BODY_FILE" --no-tui --output-format json "$URL/triples/batch?validate=true" \
        >"$OUT/peer.json" 2>"$OUT/peer.err"
    stop_stub
    local req wall
    req=$(jq '[.statusCodeDistribution[]] | add' "$OUT/peer.json")
    wall=$(jq .summary.total "$OUT/peer.json")
    awk -F': ' -v r="$round" -v m="$mode" -v req="$req" -v wall="$wall" '
        /User time/ {u = $2} /System time/ {s = $2} /Voluntary context switches/ {v = $2}
        END {printf "%s,%s,%d,%.3f,%.2f,%.2f,%d,%.1f\n", r, m, req, wall, u, s, v, (u + s) * 1e6 / req}' \
        "$OUT/peer.time" | tee -a "$CSV"
}
requests=$((RATE * SECONDS_PACED))
for round in $(seq 1 "$ROUNDS"); do
    run "$round" paced -q "$RATE" -n "$requests"
    run "$round" max -n "$requests"
done
echo
python3 - "$CSV" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ratios = []
for rnd in sorted({r["round"] for r in rows}):
    pick = {r["mode"]: r for r in rows if r["round"] == rnd}
    if "paced" in pick and "max" in pick:
        ratios.append(float(pick["paced"]["cpu_us_per_req"]) / float(pick["max"]["cpu_us_per_req"]))
for mode in ("paced", "max"):
    cpu = sorted(float(r["cpu_us_per_req"]) for r in rows if r["mode"] == mode)
    print(f"oha {mode:5}: CPU per request median {statistics.median(cpu):.1f} us {cpu}")
print(f"oha CPU paced / max: median {statistics.median(ratios):.2f}x per round: "
      + ", ".join(f"{x:.2f}x" for x in ratios))
PY
