#!/usr/bin/env bash
# Issue 10: four shards on this machine pacing a combined 4,000 events/s against one stub:
# the p99 lateness of their union (the merged result's lateness histogram) and their total CPU
# against one process pacing the same trace at the same speed, in the same round.
#
# The trace is tools/bench/pace-2k.toml's 30 s (about 2,000 events/s of trace time; see that
# file) replayed at 2x: about 4,000 events/s for 15 s. Each round, against a fresh stub (no
# latency) on 127.0.0.1:
#   * one:    loadgen replay T --speed 2x (default --threads)
#   * shards: four processes `loadgen replay T --speed 2x --shard I/4 --run-id R --start-at S`
#             started together, S a few seconds ahead, then `loadgen merge` of their results.
# Printed per run: events, lateness p50/p99/max (ms) of the run (of the union for the shards),
# CPU (user + sys, s) of the process or of the four. Also written to $OUT/shards_pacing.csv,
# followed by the medians and the per-round ratio of the shards' CPU to the one process's.
#
#   tools/bench/shards_pacing.sh            # 5 rounds
#
# Knobs: OUT (/tmp/loadgen-bench), PORT (18310), ROUNDS (5), SPEED (2x), SHARDS (4), LEAD (3,
# seconds between launching the shards and their --start-at), SHARD_ARGS (extra arguments of
# every shard, e.g. "--threads 1": four shards on two cores need no more dispatchers than
# that), LOADGEN, STUB.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-/tmp/loadgen-bench}
PORT=${PORT:-18310}
ROUNDS=${ROUNDS:-5}
SPEED=${SPEED:-2x}
SHARDS=${SHARDS:-4}
LEAD=${LEAD:-3}
SHARD_ARGS=${SHARD_ARGS:-}
LOADGEN=${LOADGEN:-$ROOT/target/release/loadgen}
STUB=${STUB:-$ROOT/target/release/freshmart-stub}
URL=http://127.0.0.1:$PORT

mkdir -p "$OUT"
STUB_PID=
trap 'if [[ -n $STUB_PID ]]; then kill -KILL "$STUB_PID" 2>/dev/null || true; fi' EXIT
if [[ ! -x $LOADGEN || ! -x $STUB ]]; then
    cargo build --release --workspace
fi
TRACE=$OUT/pace-2k-30s.trace
[[ -f $TRACE ]] || "$LOADGEN" simulate --profile-file "$ROOT/tools/bench/pace-2k.toml" \
    --duration 30s -o "$TRACE" >&2

# shellcheck source=tools/bench/stub_lifecycle.sh
source "$ROOT/tools/bench/stub_lifecycle.sh"
cpu_of() { # a /usr/bin/time -v file: user + sys seconds
    awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{print u+s}' "$1"
}
sleeps_of() { # a /usr/bin/time -v file: voluntary context switches (blocked, then woken)
    awk -F': ' '/Voluntary context switches/{print $2}' "$1"
}
row() { # round kind cpu sleeps result.json
    jq -r --arg r "$1" --arg k "$2" --argjson cpu "$3" --argjson sleeps "$4" '[$r, $k, .events.completed,
        .lateness.p50_ms, .lateness.p99_ms, .lateness.max_ms, ($cpu * 1000 | round / 1000),
        .events.failed, $sleeps] | @csv' "$5" | tr -d '"' | tee -a "$CSV"
}

CSV=$OUT/shards_pacing.csv
echo "round,kind,events,lateness_p50_ms,lateness_p99_ms,lateness_max_ms,cpu_s,failed,voluntary_switches" | tee "$CSV"
for round in $(seq 1 "$ROUNDS"); do
    start_stub
    rm -f "$OUT"/one.json*
    timeout 300 /usr/bin/time -v -o "$OUT/one.time" "$LOADGEN" replay "$TRACE" --api-url "$URL" \
        --speed "$SPEED" --run-id "one$round" --report "$OUT/one.json" >"$OUT/one.out" 2>&1
    stop_stub
    row "$round" one "$(cpu_of "$OUT/one.time")" "$(sleeps_of "$OUT/one.time")" "$OUT/one.json"

    start_stub
    rm -f "$OUT"/shard*.json* "$OUT/union.json"
    at=$(date -u -d "+$LEAD seconds" +%Y-%m-%dT%H:%M:%SZ)
    pids=()
    for ((i = 0; i < SHARDS; i++)); do
        timeout 300 /usr/bin/time -v -o "$OUT/shard$i.time" "$LOADGEN" replay "$TRACE" \
            --api-url "$URL" --speed "$SPEED" --shard "$i/$SHARDS" --run-id "sh$round" \
            --start-at "$at" --report "$OUT/shard$i.json" $SHARD_ARGS >"$OUT/shard$i.out" 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    stop_stub
    cpu=0
    sleeps=0
    results=()
    for ((i = 0; i < SHARDS; i++)); do
        cpu=$(echo "$cpu + $(cpu_of "$OUT/shard$i.time")" | bc -l)
        sleeps=$((sleeps + $(sleeps_of "$OUT/shard$i.time")))
        results+=("$OUT/shard$i.json")
    done
    "$LOADGEN" merge "${results[@]}" -o "$OUT/union.json" >"$OUT/merge.out"
    row "$round" "shards$SHARDS" "$cpu" "$sleeps" "$OUT/union.json"
done

echo
echo "medians over $ROUNDS rounds"
python3 - "$CSV" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = statistics.median
for kind in sorted({r["kind"] for r in rows}):
    rs = [r for r in rows if r["kind"] == kind]
    p99 = sorted(float(r["lateness_p99_ms"]) for r in rs)
    cpu = sorted(float(r["cpu_s"]) for r in rs)
    print(f"{kind:8}: events {rs[0]['events']}, p99 lateness {med(p99):.3f} ms {p99}, "
          f"CPU {med(cpu):.3f} s {cpu}")
ratios = []
for rnd in sorted({r["round"] for r in rows}, key=int):
    one = [float(r["cpu_s"]) for r in rows if r["round"] == rnd and r["kind"] == "one"]
    sh = [float(r["cpu_s"]) for r in rows if r["round"] == rnd and r["kind"] != "one"]
    if one and sh:
        ratios.append(sh[0] / one[0])
print("shards' CPU / one process's, per round: median "
      f"{med(ratios):.2f}x: " + ", ".join(f"{x:.2f}x" for x in ratios))
# What the extra CPU goes with: the shards block and are woken more often than one process.
per_sleep, sleep_ratio = [], []
for rnd in sorted({r["round"] for r in rows}, key=int):
    one = [r for r in rows if r["round"] == rnd and r["kind"] == "one"]
    sh = [r for r in rows if r["round"] == rnd and r["kind"] != "one"]
    if one and sh and "voluntary_switches" in one[0]:
        extra = int(sh[0]["voluntary_switches"]) - int(one[0]["voluntary_switches"])
        sleep_ratio.append(int(sh[0]["voluntary_switches"]) / int(one[0]["voluntary_switches"]))
        if extra > 0:
            per_sleep.append((float(sh[0]["cpu_s"]) - float(one[0]["cpu_s"])) * 1e6 / extra)
if sleep_ratio:
    print(f"shards' sleeps / one process's: median {med(sleep_ratio):.2f}x; "
          f"extra CPU per extra sleep: median {med(per_sleep) if per_sleep else float('nan'):.1f} us")
EOF
