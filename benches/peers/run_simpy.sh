#!/usr/bin/env bash
# Run the SimPy peer benchmark (Erlang-A, M/M/100+M) and print one JSON line.
#
# Usage: benches/peers/run_simpy.sh [--calls N] [--seed S]
#        (default: --calls 1000000 --seed 42)
#
# Creates a venv at ${CALLSIM_PEERS_VENV:-target/peers-venv} (relative to the
# repository root) if missing, installs benches/peers/requirements.txt into it,
# then runs benches/peers/simpy_erlang_a.py under /usr/bin/time and prints the
# script's JSON line with an added "peak_rss_kb" field (max resident set size
# of the Python process, in KiB). Progress and pip messages go to stderr; the
# JSON line is the only thing on stdout.
set -euo pipefail

die() { echo "run_simpy.sh: error: $*" >&2; exit 1; }

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"
cd "$repo_root"

command -v python3 >/dev/null 2>&1 \
  || die "python3 not found on PATH; install Python 3 with the venv module (e.g. apt-get install python3 python3-venv)"
[[ -x /usr/bin/time ]] \
  || die "/usr/bin/time not found (needed for peak RSS); install it (e.g. apt-get install time)"

venv="${CALLSIM_PEERS_VENV:-target/peers-venv}"
req="benches/peers/requirements.txt"
py="$venv/bin/python"

if [[ ! -x "$py" ]]; then
  echo "run_simpy.sh: creating venv at $venv" >&2
  python3 -m venv "$venv" \
    || die "'python3 -m venv $venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi

# Install the pinned requirements; skip when this exact requirements.txt was
# already installed into this venv.
stamp="$venv/.callsim-peers-requirements.txt"
if ! cmp -s "$req" "$stamp" 2>/dev/null; then
  echo "run_simpy.sh: installing $req into $venv" >&2
  "$py" -m pip install --quiet --disable-pip-version-check -r "$req" >&2 \
    || die "pip install -r $req failed"
  cp "$req" "$stamp"
fi

if [[ $# -eq 0 ]]; then
  set -- --calls 1000000 --seed 42
fi

rss_file="$(mktemp "${TMPDIR:-/tmp}/callsim-simpy-rss.XXXXXX")"
trap 'rm -f "$rss_file"' EXIT

json="$(/usr/bin/time -f '%M' -o "$rss_file" "$py" benches/peers/simpy_erlang_a.py "$@")" \
  || die "simpy_erlang_a.py failed ($(head -n1 "$rss_file" 2>/dev/null))"
peak_rss_kb="$(tail -n1 "$rss_file")"
[[ "$peak_rss_kb" =~ ^[0-9]+$ ]] || die "could not read peak RSS from /usr/bin/time: '$peak_rss_kb'"

"$py" -c '
import json, sys
d = json.loads(sys.argv[1])
d["peak_rss_kb"] = int(sys.argv[2])
print(json.dumps(d))
' "$json" "$peak_rss_kb"
