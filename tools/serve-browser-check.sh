#!/usr/bin/env bash
# Starts `callsim serve scenarios` on a free loopback port, drives headless Chromium against it
# (tools/serve-browser-check.mjs: open the page, wait for the CallRail chart, move the dial-rate
# slider with the keyboard, wait for the chart to change, check "copy as command", screenshot),
# then stops the server with SIGTERM and checks that it shut down cleanly.
# With --save-screenshot, writes docs/img/serve-dashboard.png.
#
# Usage: tools/serve-browser-check.sh [--save-screenshot]
# Needs chromium (tools/browser-check.sh installs it) and node >= 20. About 10 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
chrome=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chrome" ] || { echo "serve-browser-check: chromium is not installed (apt-get install chromium)" >&2; exit 1; }
command -v node >/dev/null || { echo "serve-browser-check: node is not installed" >&2; exit 1; }
[ -x target/release/callsim ] || cargo build --release --locked
tmp=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT

target/release/callsim serve scenarios --bind 127.0.0.1:0 2>"$tmp/serve.log" &
server=$!
url=""
for _ in $(seq 100); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$tmp/serve.log" || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "serve-browser-check: the server did not start:" >&2; cat "$tmp/serve.log" >&2; exit 1; }
grep -q 'loopback only' "$tmp/serve.log" || { echo "serve-browser-check: the server did not say it is loopback only" >&2; exit 1; }

# Node 20 needs a flag for the WebSocket client; later versions have it built in.
flags=""
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || flags="--experimental-websocket"
node $flags --no-warnings tools/serve-browser-check.mjs "$chrome" "${url}?file=callrail-2018-05-14.toml" "$tmp/serve.png"
[ "${1:-}" = "--save-screenshot" ] && mkdir -p docs/img && cp "$tmp/serve.png" docs/img/serve-dashboard.png

kill -TERM "$server"
status=0
wait "$server" || status=$?
server=""
grep -q 'callsim serve: stopped' "$tmp/serve.log" || { echo "serve-browser-check: no clean stop (exit $status):" >&2; cat "$tmp/serve.log" >&2; exit 1; }
[ "$status" = 0 ] || { echo "serve-browser-check: the server exited $status after SIGTERM" >&2; exit 1; }
echo "serve-browser-check: SIGTERM -> clean stop (exit 0)"
