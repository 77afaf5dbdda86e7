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
# time p99, client user+sys per request, failures, and the client's user and system seconds and
# voluntary context switches (times it blocked and was woken), from /usr/bin/time -v. Also
# written to $OUT/pacing.csv. The summary splits what pacing adds: the user-time ratio, and
# the CPU per extra sleep ((CPU paced - CPU max) / (switches paced - switches max)).
#
#   tools/bench/pacing.sh                    # 5 rounds of each
#
# Knobs: OUT (/tmp/loadgen-bench), PORT (18300), ROUNDS (5), SPEED_RAMP (166), LOADGEN, STUB.
# LOADGEN_B: a second build, run in every round next to LOADGEN (alternating which goes
# first), for before/after pairs. FLAT_SPEEDS ("1x"): the speeds the flat trace is replayed at
# in each round, e.g. "1x max 10x" for the CPU ratio against --speed max and 20,000 events/s.
# RAMP (1): 0 skips the ramp trace. FLAT_PROFILE (pace-2k): the profile of the flat trace
# (pace-500: a quarter of the rate, for a machine that cannot serve 2,000 events/s). A summary of medians and per-round ratios follows.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-/tmp/loadgen-bench}
PORT=${PORT:-18300}
ROUNDS=${ROUNDS:-5}
SPEED_RAMP=${SPEED_RAMP:-166}
LOADGEN=${LOADGEN:-$ROOT/target/release/loadgen}
LOADGEN_B=${LOADGEN_B:-}
FLAT_SPEEDS=${FLAT_SPEEDS:-1x}
RAMP_RUNS=${RAMP:-1}
STUB=${STUB:-$ROOT/target/release/freshmart-stub}
URL=http://127.0.0.1:$PORT

mkdir -p "$OUT"
STUB_PID=
trap 'if [[ -n $STUB_PID ]]; then kill -KILL "$STUB_PID" 2>/dev/null || true; fi' EXIT
if [[ ! -x $LOADGEN || ! -x $STUB ]]; then
    cargo build --release --workspace
fi
FLAT_PROFILE=${FLAT_PROFILE:-pace-2k}
FLAT=$OUT/$FLAT_PROFILE-30s.trace
RAMP=$OUT/stress-3h.trace
[[ -f $FLAT ]] || "$LOADGEN" simulate --profile-file "$ROOT/tools/bench/$FLAT_PROFILE.toml" \
    --duration 30s -o "$FLAT" >&2
[[ -f $RAMP ]] || "$LOADGEN" simulate --profile stress --duration 3h -o "$RAMP" >&2

# shellcheck source=tools/bench/stub_lifecycle.sh
source "$ROOT/tools/bench/stub_lifecycle.sh"

CSV=$OUT/pacing.csv
echo "round,build,trace,speed,events,duration_s,events_per_s,lateness_p50_ms,lateness_p99_ms,lateness_p999_ms,lateness_max_ms,service_p99_ms,client_us_per_req,failed,client_user_s,client_sys_s,voluntary_switches" | tee "$CSV"
run() { # round build name trace speed [extra args]
    local round=$1 build=$2 name=$3 trace=$4 speed=$5 bin=$LOADGEN
    shift 5
    [[ $build == b ]] && bin=$LOADGEN_B
    start_stub
    rm -f "$OUT/pace.json" "$OUT/pace.json.checkpoint" "$OUT/pace.json.checkpoint.log"
    timeout 300 /usr/bin/time -v -o "$OUT/pace.time" "$bin" replay "$trace" --api-url "$URL" \
        --speed "$speed" --run-id "p$round$name" --report "$OUT/pace.json" "$@" >"$OUT/pace.out" 2>&1
    stop_stub
    local cpu user sys switches
    cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{print u+s}' "$OUT/pace.time")
    user=$(awk -F': ' '/User time/{print $2}' "$OUT/pace.time")
    sys=$(awk -F': ' '/System time/{print $2}' "$OUT/pace.time")
    switches=$(awk -F': ' '/Voluntary context switches/{print $2}' "$OUT/pace.time")
    jq -r --arg r "$round" --arg b "$build" --arg n "$name" --arg s "$speed" --argjson cpu "$cpu" \
        --argjson user "$user" --argjson sys "$sys" --argjson switches "$switches" '[
        $r, $b, $n, $s, .events.completed, (.duration_s * 1000 | round / 1000),
        (.events.completed / .duration_s | round), .lateness.p50_ms, .lateness.p99_ms,
        .lateness.p999_ms, .lateness.max_ms, .service_time.p99_ms,
        ($cpu * 1e6 / .requests * 10 | round / 10), .events.failed, $user, $sys, $switches] | @csv' "$OUT/pace.json" |
        tr -d '"' | tee -a "$CSV"
}
builds=(a)
[[ -n $LOADGEN_B ]] && builds=(a b)
for round in $(seq 1 "$ROUNDS"); do
    order=("${builds[@]}")
    if ((round % 2 == 0)) && [[ -n $LOADGEN_B ]]; then order=(b a); fi
    for build in "${order[@]}"; do
        for speed in $FLAT_SPEEDS; do
            run "$round" "$build" flat "$FLAT" "$speed"
        done
        if [[ $RAMP_RUNS == 1 ]]; then
            run "$round" "$build" ramp "$RAMP" "${SPEED_RAMP}x" --to 11:00
        fi
    done
done

echo
echo "medians over $ROUNDS rounds (build a = LOADGEN, b = LOADGEN_B)"
python3 - "$CSV" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = lambda xs: statistics.median(xs) if xs else float("nan")
for build in sorted({r["build"] for r in rows}):
    for trace, speed in sorted({(r["trace"], r["speed"]) for r in rows}):
        rs = [r for r in rows if r["build"] == build and r["trace"] == trace and r["speed"] == speed]
        if not rs:
            continue
        p99 = [float(r["lateness_p99_ms"]) for r in rs if r["lateness_p99_ms"] not in ("", "null")]
        cpu = [float(r["client_us_per_req"]) for r in rs]
        print(f"{build} {trace:4} {speed:>5}: events/s {med([float(r['events_per_s']) for r in rs]):8.0f}"
              f"  p99 lateness {med(p99):7.3f} ms {sorted(p99)}  client {med(cpu):6.1f} us/req {sorted(cpu)}")
    # CPU at each paced speed over CPU at max, per round.
    for speed in sorted({r["speed"] for r in rows if r["trace"] == "flat" and r["speed"] != "max"}):
        ratios = []
        for rnd in sorted({r["round"] for r in rows}):
            paced = [float(r["client_us_per_req"]) for r in rows if r["round"] == rnd and r["build"] == build and r["trace"] == "flat" and r["speed"] == speed]
            unpaced = [float(r["client_us_per_req"]) for r in rows if r["round"] == rnd and r["build"] == build and r["trace"] == "flat" and r["speed"] == "max"]
            if paced and unpaced:
                ratios.append(paced[0] / unpaced[0])
        if ratios:
            print(f"{build} flat CPU {speed} / max: median {med(ratios):.2f}x per round: "
                  + ", ".join(f"{x:.2f}x" for x in ratios))
        # What pacing adds, split: user time alone, and the CPU per extra sleep (a voluntary
        # context switch: the thread blocked in the kernel and was woken again).
        user_ratios, per_sleep = [], []
        for rnd in sorted({r["round"] for r in rows}):
            pick = lambda s: [r for r in rows if r["round"] == rnd and r["build"] == build and r["trace"] == "flat" and r["speed"] == s]
            paced, unpaced = pick(speed), pick("max")
            if not (paced and unpaced) or "client_user_s" not in paced[0]:
                continue
            p, u = paced[0], unpaced[0]
            user_ratios.append(float(p["client_user_s"]) / float(u["client_user_s"]))
            extra_cpu = (float(p["client_user_s"]) + float(p["client_sys_s"])) - (float(u["client_user_s"]) + float(u["client_sys_s"]))
            extra_sleeps = int(p["voluntary_switches"]) - int(u["voluntary_switches"])
            if extra_sleeps > 0:
                per_sleep.append(extra_cpu * 1e6 / extra_sleeps)
        if user_ratios:
            print(f"{build} flat user CPU {speed} / max: median {med(user_ratios):.2f}x; "
                  f"CPU per extra sleep: median {med(per_sleep):.1f} us "
                  + str([round(x, 1) for x in per_sleep]))
EOF
