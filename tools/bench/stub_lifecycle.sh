# Sourced by the benchmark scripts: a fresh freshmart-stub per measurement on 127.0.0.1.
# Uses STUB (the binary), PORT, URL (http://127.0.0.1:$PORT) and OUT (its log goes to
# $OUT/stub.out); sets STUB_PID. start_stub waits at most 10 s for /health, stop_stub at most 5 s
# for a clean exit before SIGKILL.
# shellcheck shell=bash
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
