#!/usr/bin/env bash
# Starts `callsim serve scenarios` on a free loopback port, drives headless Chromium against it
# (tools/serve-browser-check.py: open the page, wait for the CallRail chart, move the dial-rate
# slider with the keyboard, wait for the chart to change, check "copy as command", screenshot;
# then ?variant= in the address, with the per-customer scenario's own backup control),
# then stops the server with SIGTERM and checks that it shut down cleanly. A negative control first
# changes the slider without the user's input event and requires the check to fail.
# With --save-screenshot, writes docs/img/serve-dashboard.png.
#
# Usage: tools/serve-browser-check.sh [--save-screenshot]
# Needs chromium and python3 (standard library only); installs them with apt-get when missing
# (needs root). About 15 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/need.sh
need chromium chromium fonts-dejavu-core
need python3 python3
chrome=$(command -v chromium)
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

page="${url}?file=callrail-2018-05-14.toml"
# Negative control: a slider changed without the user's input event re-runs nothing, so the check
# must fail, and for that reason.
if python3 tools/serve-browser-check.py "$chrome" "$page" "$tmp/neg.png" --negative-control 2>"$tmp/neg.err" >/dev/null; then
  echo "serve-browser-check: the negative control passed; the check cannot see a chart that does not change" >&2; exit 1
fi
grep -q 'timed out waiting for the result after moving the slider' "$tmp/neg.err" || { echo "serve-browser-check: the negative control failed for another reason:" >&2; cat "$tmp/neg.err" >&2; exit 1; }
echo "serve-browser-check: negative control failed as it should ($(tail -1 "$tmp/neg.err" | sed 's/^serve-browser-check: //'))"
python3 tools/serve-browser-check.py "$chrome" "$page" "$tmp/serve.png"

# A variant named in the address: the per-customer variant shows its customer's own backup
# control; an unknown variant falls back to the base, which has none (the negative control).
controls() { # page -> the backup controls in the rendered page (tries 3 times: page loads race)
  for _ in 1 2 3; do
    out=$("$chrome" --headless --no-sandbox --disable-gpu --virtual-time-budget=8000 --dump-dom "$1" 2>/dev/null \
      | grep -o 'id="lever-backup[^"]*"' | tr '\n' ' ' || true)
    [ -n "$out" ] && break
  done
  echo "$out"
}
per="${url}?file=callrail-per-customer.toml"
got=$(controls "$per&variant=ring-groups-only")
case "$got" in *lever-backup.sources.ring-groups.policy*) ;; *) echo "serve-browser-check: ?variant=ring-groups-only shows no ring-groups backup control: $got" >&2; exit 1;; esac
got=$(controls "$per&variant=nope")
case "$got" in *lever-backup.policy*) ;; *) echo "serve-browser-check: the page did not render its controls: $got" >&2; exit 1;; esac
case "$got" in *ring-groups*) echo "serve-browser-check: an unknown variant shows a variant's control: $got" >&2; exit 1;; esac
echo "serve-browser-check: ?variant= opens the variant with its per-source backup control"
[ "${1:-}" = "--save-screenshot" ] && mkdir -p docs/img && cp "$tmp/serve.png" docs/img/serve-dashboard.png

kill -TERM "$server"
status=0
wait "$server" || status=$?
server=""
grep -q 'callsim serve: stopped' "$tmp/serve.log" || { echo "serve-browser-check: no clean stop (exit $status):" >&2; cat "$tmp/serve.log" >&2; exit 1; }
[ "$status" = 0 ] || { echo "serve-browser-check: the server exited $status after SIGTERM" >&2; exit 1; }
echo "serve-browser-check: SIGTERM -> clean stop (exit 0)"
