#!/usr/bin/env bash
# Renders the CallRail replay and the three platform incidents (Voucherify, Simwood, one
# Easycallnow afternoon) with `callsim report`, opens each report in headless Chromium and
# fails unless every chart rendered: the page's inline self-check (data points with tooltips, a
# data line, both axis labels, no script error) must say "ok" in <body data-selfcheck>, the
# console must show no error, and the number of charts checked must equal the number of SVG files
# written. A negative control empties one chart and requires the
# check to fail. Takes screenshots; with --save-screenshots, writes them to docs/img/.
#
# Usage: tools/browser-check.sh [--save-screenshots]
# Installs Debian's `chromium` when missing (needs root; idempotent). About 45 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
save=0
[ "${1:-}" = "--save-screenshots" ] && save=1
started=$(date +%s)

. tools/need.sh
need chromium chromium fonts-dejavu-core
chrome=$(command -v chromium)
[ -x target/release/callsim ] || cargo build --release --locked
bin=target/release/callsim

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# `callsim run --out` records its command line in manifest.json, and the report shows it under
# "Reproduce with": the temporary directory is replaced by results/NAME, the directory a reader
# would choose, so that the screenshots in docs/img/ show a command worth copying.
manifest() { # DIR NAME
  sed -i "s#$1#results/$2#g" "$1/manifest.json"
}

headless() { # extra chromium flags...
  "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=5000 "$@"
}

# Prints the page's self-check verdict; fails on any console error.
selfcheck() { # HTML NAME
  headless --enable-logging=stderr --v=0 --dump-dom "file://$(realpath "$1")" >"$tmp/$2.dom" 2>"$tmp/$2.console"
  if grep -E ':CONSOLE' "$tmp/$2.console" | grep -qiE 'error|uncaught'; then
    echo "browser-check: $2: console errors:" >&2
    grep -E ':CONSOLE' "$tmp/$2.console" >&2
    return 1
  fi
  grep -o 'data-selfcheck="[^"]*"' "$tmp/$2.dom" | sed 's/^data-selfcheck="//; s/"$//' || echo "no verdict"
}

fail=0
# name, scenario, screenshot height, then any extra `run` arguments (Easycallnow: one
# afternoon, whose outages the README's picture shows).
for case in "callrail scenarios/callrail-2018-05-14.toml 2000" "voucherify scenarios/voucherify-2021-08-20.toml 2060" \
  "simwood scenarios/simwood-2020-01-23.toml 3600" \
  "easycallnow scenarios/easycallnow-2015-07-22.toml 1750 --variant actual -n 1"; do
  set -- $case
  name=$1 scenario=$2 height=$3 out="$tmp/$1"
  shift 3
  "$bin" run "$scenario" "$@" --out "$out" --quiet >/dev/null
  manifest "$out" "$name"
  "$bin" report "$out" --no-timestamp >/dev/null 2>"$tmp/$name.notes"
  svgs=$(find "$out/charts" -name '*.svg' | wc -l)
  size=$(wc -c <"$out/report.html")
  verdict=$(selfcheck "$out/report.html" "$name") || fail=1
  echo "browser-check: $name: $verdict; $svgs SVG files; report.html $size bytes"
  case "$verdict" in
    "ok $svgs charts") ;;
    *) echo "browser-check: $name: FAILED (expected \"ok $svgs charts\")" >&2; fail=1 ;;
  esac
  if [ "$size" -ge 2000000 ]; then echo "browser-check: $name: report.html is $size bytes (limit 2 MB)" >&2; fail=1; fi
  headless --window-size=1280,"$height" --screenshot="$tmp/$name-report.png" "file://$(realpath "$out/report.html")" 2>/dev/null >/dev/null
  [ -s "$tmp/$name-report.png" ] || { echo "browser-check: $name: no screenshot" >&2; fail=1; }
  [ "$save" = 1 ] && mkdir -p docs/img && cp "$tmp/$name-report.png" "docs/img/$name-report.png"
done

# Negative control: the first chart of the CallRail page with its data removed must fail.
python3 - "$tmp/callrail/report.html" "$tmp/emptied.html" <<'PY'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
start = html.index('<figure class="chart"'); end = html.index("</figure>", start)
fig = re.sub(r'points="[^"]*"', 'points=""', html[start:end])
fig = re.sub(r"<title>.*?</title>", "", fig)
open(sys.argv[2], "w", encoding="utf-8").write(html[:start] + fig + html[end:])
PY
control=$(selfcheck "$tmp/emptied.html" emptied) || true
case "$control" in
  fail:*"no data points"*) echo "browser-check: negative control (one chart emptied) fails as it must: ${control:0:90}" ;;
  *) echo "browser-check: negative control was not caught: $control" >&2; fail=1 ;;
esac

echo "browser-check: $(( $(date +%s) - started )) s"
[ "$fail" = 0 ] && echo "browser-check ok" || { echo "browser-check FAILED" >&2; exit 1; }
