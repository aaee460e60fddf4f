#!/usr/bin/env bash
# Self-test of the instruction-count guard (tools/icount.sh): proves it FAILS, with the right
# message and exit status, for each way a measurement can break or disagree with the baseline,
# and that it passes on the committed baseline. CI runs it right after the guard. About 20 s.
#   tools/icount-selftest.sh
# Faults are injected through the guard's environment (ICOUNT_VALGRIND, ICOUNT_TOGGLE,
# ICOUNT_BASELINE, ICOUNT_ONLY); the committed baseline is never modified. The doctored cases
# measure one small workload (erlang_a_100k) with the real valgrind to stay quick.
set -euo pipefail
cd "$(dirname "$0")/.."
GUARD=tools/icount.sh
REAL_BASELINE=results/icount-baseline.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
cases=0
# expect NAME STATUS PATTERN [VAR=VALUE...]: run the guard with the environment given; it must
# exit with STATUS and its output (stdout and stderr) must match the extended regex PATTERN.
expect() {
  local name=$1 want=$2 pattern=$3 rc=0
  shift 3
  cases=$((cases + 1))
  env "$@" "$GUARD" >"$tmp/out" 2>&1 || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "icount-selftest: FAIL $name: exit status $rc, expected $want; output:" >&2
    sed 's/^/    /' "$tmp/out" >&2
    failures=$((failures + 1))
  elif ! grep -Eq -- "$pattern" "$tmp/out"; then
    echo "icount-selftest: FAIL $name: exit status $rc as expected, but no line matches /$pattern/; output:" >&2
    sed 's/^/    /' "$tmp/out" >&2
    failures=$((failures + 1))
  elif [ "$want" != 0 ] && grep -q '^icount: ok' "$tmp/out"; then
    echo "icount-selftest: FAIL $name: failed but also printed 'icount: ok'" >&2
    failures=$((failures + 1))
  else
    echo "icount-selftest: ok   $name (exit $rc: $(grep -Em1 -- "$pattern" "$tmp/out"))"
  fi
}

# Fake valgrinds: one that fails, one that succeeds but writes no count, one that writes garbage.
cat >"$tmp/valgrind-exit1" <<'SH'
#!/bin/sh
echo "valgrind: simulated failure" >&2
exit 1
SH
cat >"$tmp/valgrind-nocount" <<'SH'
#!/bin/sh
exit 0
SH
cat >"$tmp/valgrind-garbage" <<'SH'
#!/bin/sh
for a in "$@"; do
  case "$a" in --callgrind-out-file=*) printf 'events: Ir\nsummary: lots\n' >"${a#*=}" ;; esac
done
exit 0
SH
chmod +x "$tmp"/valgrind-*

# Doctored baselines from the committed one (only erlang_a_100k, the workload measured below).
base=$(awk '$1 == "erlang_a_100k" { print $2 }' "$REAL_BASELINE")
[[ "$base" =~ ^[1-9][0-9]*$ ]] || { echo "icount-selftest: no erlang_a_100k entry in $REAL_BASELINE" >&2; exit 1; }
echo "erlang_a_100k $base" >"$tmp/one"
echo "erlang_a_100k $((base * 3 / 2))" >"$tmp/plus50"
echo "erlang_a_100k $((base / 2))" >"$tmp/minus50"
printf 'erlang_a_100k %s\nghost_workload 123456789\n' "$base" >"$tmp/extra"
printf 'erlang_a_100k %s\nerlang_a_100k %s\n' "$base" "$base" >"$tmp/twice"
printf 'erlang_a_100k %s\nsimulcall_20k many\n' "$base" >"$tmp/malformed"

ONE=ICOUNT_ONLY=erlang_a_100k
expect "passes on the committed baseline" 0 '^icount: ok'
expect "valgrind fails" 1 'erlang_a_100k: valgrind exited with status 1' \
  ICOUNT_VALGRIND="$tmp/valgrind-exit1"
expect "valgrind writes no count" 1 "no readable 'summary: COUNT' line" \
  ICOUNT_VALGRIND="$tmp/valgrind-nocount" "$ONE" ICOUNT_BASELINE="$tmp/one"
expect "valgrind writes an unparseable count" 1 "no readable 'summary: COUNT' line .*got 'lots'" \
  ICOUNT_VALGRIND="$tmp/valgrind-garbage" "$ONE" ICOUNT_BASELINE="$tmp/one"
expect "toggle pattern matches nothing" 1 'counted 0 instructions inside .callsim::no_such_fn\*.' \
  ICOUNT_TOGGLE='callsim::no_such_fn*' "$ONE" ICOUNT_BASELINE="$tmp/one"
expect "count 50% over the run (a drop)" 1 'erlang_a_100k dropped by more than 3% below the baseline' \
  "$ONE" ICOUNT_BASELINE="$tmp/plus50"
expect "the drop message says how to re-baseline" 1 'tools/icount.sh --rebaseline NAME' \
  "$ONE" ICOUNT_BASELINE="$tmp/plus50"
expect "count 50% under the run (growth)" 1 'erlang_a_100k grew by more than 3% over the baseline' \
  "$ONE" ICOUNT_BASELINE="$tmp/minus50"
expect "baseline entry with no workload" 1 "'ghost_workload' is in .* but no workload of that name was measured" \
  "$ONE" ICOUNT_BASELINE="$tmp/extra"
expect "workload with no baseline entry" 1 "'simulcall_20k' was measured but has no entry" \
  ICOUNT_ONLY="erlang_a_100k simulcall_20k" ICOUNT_BASELINE="$tmp/one"
expect "malformed baseline" 2 'malformed entry .simulcall_20k many.' \
  "$ONE" ICOUNT_BASELINE="$tmp/malformed"
expect "baseline names a workload twice" 2 "'erlang_a_100k' appears twice" \
  "$ONE" ICOUNT_BASELINE="$tmp/twice"
expect "unknown workload asked for" 2 "no workload named 'nope'" ICOUNT_ONLY=nope
expect "doctored baseline of the same counts passes" 0 '^icount: ok' "$ONE" ICOUNT_BASELINE="$tmp/one"

if [ "$failures" != 0 ]; then
  echo "icount-selftest: FAILED: $failures of $cases cases" >&2
  exit 1
fi
echo "icount-selftest: ok ($cases cases)"
