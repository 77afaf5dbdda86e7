#!/usr/bin/env bash
# Opens the HTML report of the checked-in result (tests/data/report_result.json) in a real
# browser, headless Chromium: fails when the screenshot is missing or one colour, or when
# the browser's console logged an error. Installs Debian's chromium when it is missing.
# Usage: tools/ci/browser_check.sh [path/to/loadgen]
set -euo pipefail
cd "$(dirname "$0")/../.."
loadgen=${1:-target/debug/loadgen}

if ! command -v chromium >/dev/null 2>&1; then
    apt-get update && apt-get install -y chromium
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$loadgen" report tests/data/report_result.json -o "$work/report.html"
# The profile in the work directory: nothing of the user's is read or kept.
timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/profile" --enable-logging=stderr --v=0 \
    --screenshot="$work/report.png" --window-size=1280,2400 \
    "file://$work/report.html" 2>"$work/console.log" || {
    cat "$work/console.log"
    echo "chromium failed" >&2
    exit 1
}
if [ ! -s "$work/report.png" ]; then
    cat "$work/console.log"
    echo "no screenshot was written" >&2
    exit 1
fi
if grep -E "Uncaught|ERROR:CONSOLE" "$work/console.log"; then
    echo "the page logged errors on the browser's console" >&2
    exit 1
fi
python3 tools/ci/png_not_blank.py "$work/report.png"
