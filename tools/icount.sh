#!/usr/bin/env bash
# Instruction-count guard: counts the instructions the simulation itself executes (valgrind
# callgrind, collection scoped to callsim::model::Model::run) on small fixed workloads, and
# compares them with the baseline committed in results/icount-baseline.txt. Counts repeat
# exactly for the same binary and inputs on a machine of this kind, so a 3% budget is tight and
# never flaky. The budget holds both ways: a count that drops by more than it fails too (the
# measurement broke, or the engine got cheaper and the baseline is stale and would let a real
# regression through). Run from anywhere:
#   tools/icount.sh                       check against the baseline (CI runs this)
#   tools/icount.sh --rebaseline          re-measure every workload and rewrite the baseline
#   tools/icount.sh --rebaseline NAME...  re-measure only these workloads; replace or add their
#                                         lines and keep the others (commit it, and say in the
#                                         commit message why the engine got slower or faster)
#   tools/icount.sh --list                print the workload names
# Exit status: 0 ok; 1 the guard failed (count out of budget, measurement broken, workload and
# baseline disagree); 2 bad usage or setup (unknown workload, malformed baseline, no valgrind).
# Environment (tools/icount-selftest.sh uses these to inject faults):
#   ICOUNT_BUDGET_PCT  budget in percent, both ways (default 3)
#   ICOUNT_BASELINE    baseline file (default results/icount-baseline.txt)
#   ICOUNT_VALGRIND    valgrind command (default valgrind)
#   ICOUNT_TOGGLE      callgrind --toggle-collect pattern (default 'callsim::model::Model::run*')
#   ICOUNT_ONLY        measure only these workloads (space-separated); the baseline must then
#                      hold exactly these, as always
set -euo pipefail
cd "$(dirname "$0")/.."
BASELINE=${ICOUNT_BASELINE:-results/icount-baseline.txt}
BUDGET_PCT=${ICOUNT_BUDGET_PCT:-3}
VALGRIND=${ICOUNT_VALGRIND:-valgrind}
TOGGLE=${ICOUNT_TOGGLE:-callsim::model::Model::run*}
BIN=target/release/callsim

# name | scenario | overrides (space-separated KEY=VALUE, each passed as --set)
WORKLOADS=(
  "erlang_a_100k|scenarios/bench/erlang-a-c100.toml|calls=100000"
  # A large system: Erlang-A at c=100,000 (about 95,000 calls in flight after 200 s), so the
  # heap of pending events outgrows the binary heap and the radix heap takes over.
  "erlang_a_c100k|scenarios/bench/erlang-a-c100.toml|calls=200000 carriers.trunk.channels=100000 sources.callers.rate=475/s"
  "simulcall_20k|scenarios/bench/simulcall-dial-limit.toml|calls=20000"
  # The scenario's [[alerts]] rules are switched off: the baseline measures the engine as it was
  # before rules existed (with the four rules, a run without --out also records the timeline's
  # histograms for them: 1,413,405,916 instructions against 1,316,064,414 without, +7.4%).
  "callrail_1rep|scenarios/callrail-2018-05-14.toml|replications=1 alerts=[]"
  # The platform (stages, pods, tenant limiter, leak, crash and restart, retries): 22 minutes of
  # the Voucherify flood, two before it starts; six pod crashes (a frozen copy of the replay).
  "voucherify_flood|scenarios/bench/voucherify-flood.toml|start=08:10 end=08:32 replications=1"
)

die() { # status message...
  local status=$1
  shift
  printf 'icount: %s\n' "$@" >&2
  exit "$status"
}

declare -A known
for w in "${WORKLOADS[@]}"; do
  IFS='|' read -r name _ _ <<<"$w"
  known[$name]=1
done

mode=check
names=()
case "${1:-}" in
  "") ;;
  --rebaseline)
    mode=rebaseline
    shift
    names=("$@")
    ;;
  --list)
    printf '%s\n' "${!known[@]}" | sort
    exit 0
    ;;
  *) die 2 "unknown argument '$1'; usage: tools/icount.sh [--rebaseline [NAME...] | --list]" ;;
esac
if [ "$mode" = check ] && [ -n "${ICOUNT_ONLY:-}" ]; then
  read -r -a names <<<"$ICOUNT_ONLY"
fi
for n in "${names[@]}"; do
  [ -n "${known[$n]:-}" ] || die 2 "no workload named '$n'; workloads: $(printf '%s\n' "${!known[@]}" | sort | tr '\n' ' ')"
done
# The workloads to measure, in the order they are defined.
selected=()
for w in "${WORKLOADS[@]}"; do
  IFS='|' read -r name _ _ <<<"$w"
  if [ ${#names[@]} = 0 ] || printf '%s\n' "${names[@]}" | grep -qx -- "$name"; then
    selected+=("$w")
  fi
done

if [ -z "${ICOUNT_VALGRIND:-}" ] && ! command -v valgrind >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "icount: installing valgrind" >&2
    (apt-get update -qq && apt-get install -y -qq valgrind) >/dev/null
  else
    die 2 "valgrind is required (apt-get install valgrind)"
  fi
fi
[ -x "$BIN" ] || cargo build --release --locked >/dev/null

# measure NAME SCENARIO SETS: sets now[NAME] to the instruction count, or records why it could
# not be measured in errors[] (no subshell: a failure here must not be swallowed).
declare -A now
errors=()
measure() {
  local name=$1 scenario=$2 sets=$3 out log rc count
  local args=()
  for s in $sets; do args+=(--set "$s"); done
  out=$(mktemp)
  log=$(mktemp)
  rc=0
  "$VALGRIND" --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$TOGGLE" \
    "$BIN" run "$scenario" "${args[@]}" --quiet --threads 1 >/dev/null 2>"$log" || rc=$?
  local cmd="$VALGRIND --tool=callgrind --toggle-collect='$TOGGLE' $BIN run $scenario ${args[*]} --quiet --threads 1"
  if [ "$rc" != 0 ]; then
    errors+=("$name: valgrind exited with status $rc; the command was
    $cmd
  its last lines:
$(tail -n 5 "$log" | sed 's/^/    /')")
  else
    # Exactly one "summary: N" line; N is the count of the collected region.
    count=$(awk '/^summary:/ { n++; v = $2 } END { if (n == 1) print v }' "$out" 2>/dev/null || true)
    if ! [[ "$count" =~ ^[0-9]+$ ]]; then
      errors+=("$name: no readable 'summary: COUNT' line in the callgrind output (got '${count}'); the command was
    $cmd")
    elif [ "$count" = 0 ]; then
      errors+=("$name: callgrind counted 0 instructions inside '$TOGGLE': the pattern matches no
  function (renamed, or inlined?). Find the simulation loop's symbol with
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out $BIN run $scenario ${args[*]} -q --threads 1
    callgrind_annotate /tmp/cg.out | grep -i model
  and fix the pattern in tools/icount.sh (then re-baseline: the counts change with it)")
    else
      now[$name]=$count
    fi
  fi
  rm -f "$out" "$log"
}

for w in "${selected[@]}"; do
  IFS='|' read -r name scenario sets <<<"$w"
  measure "$name" "$scenario" "$sets"
done
if [ ${#errors[@]} -gt 0 ]; then
  for e in "${errors[@]}"; do printf 'icount: %s\n' "$e" >&2; done
  die 1 "FAILED: could not measure ${#errors[@]} workload(s); no comparison made and nothing written"
fi

provenance() {
  local rev
  rev=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
  # A baseline measured before its change is committed says so: HEAD alone would name the
  # engine it replaces.
  git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || rev="$rev with uncommitted changes"
  echo "tools/icount.sh --rebaseline at $rev; rustc $(rustc --version 2>/dev/null | cut -d' ' -f2)"
}

if [ "$mode" = rebaseline ] && [ ${#names[@]} = 0 ]; then
  {
    echo "# Instructions executed in callsim::model::Model::run (valgrind callgrind), per workload."
    echo "# Written by $(provenance)."
    for w in "${WORKLOADS[@]}"; do
      IFS='|' read -r name _ _ <<<"$w"
      echo "$name ${now[$name]}"
    done
  } >"$BASELINE"
  echo "icount: wrote $BASELINE"
  cat "$BASELINE"
  exit 0
fi
if [ "$mode" = rebaseline ]; then
  # Replace the named entries (and their own provenance comment) in place; append new ones.
  [ -f "$BASELINE" ] || die 2 "no $BASELINE to update; create it with tools/icount.sh --rebaseline"
  tmp=$(mktemp)
  declare -A done_names
  while IFS= read -r line || [ -n "$line" ]; do
    first=${line%% *}
    if [[ "$line" =~ ^#\ ([A-Za-z0-9_]+):\ re-measured\ alone ]] && [ -n "${now[${BASH_REMATCH[1]}]:-}" ]; then
      continue
    elif [ -n "${now[$first]:-}" ] && [[ "$line" != \#* ]]; then
      echo "# $first: re-measured alone by $(provenance)."
      echo "$first ${now[$first]}"
      done_names[$first]=1
    else
      echo "$line"
    fi
  done <"$BASELINE" >"$tmp"
  for n in "${names[@]}"; do
    if [ -z "${done_names[$n]:-}" ]; then
      echo "# $n: re-measured alone by $(provenance)."
      echo "$n ${now[$n]}"
    fi
  done >>"$tmp"
  mv "$tmp" "$BASELINE"
  echo "icount: updated ${names[*]} in $BASELINE"
  cat "$BASELINE"
  exit 0
fi

# Read the baseline: '#' comments, blank lines, and "NAME COUNT" entries (COUNT > 0), no repeats.
[ -f "$BASELINE" ] || die 2 "no $BASELINE; create it with tools/icount.sh --rebaseline"
declare -A base
base_order=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
  if ! [[ "$line" =~ ^([A-Za-z0-9_]+)[[:space:]]+([1-9][0-9]*)[[:space:]]*$ ]]; then
    die 2 "$BASELINE:$lineno: malformed entry '$line'; expected 'NAME COUNT' with COUNT > 0"
  fi
  [ -z "${base[${BASH_REMATCH[1]}]:-}" ] || die 2 "$BASELINE:$lineno: '${BASH_REMATCH[1]}' appears twice"
  base[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  base_order+=("${BASH_REMATCH[1]}")
done <"$BASELINE"

fail=0
grew=0
dropped=0
for n in "${base_order[@]}"; do
  if [ -z "${now[$n]:-}" ]; then
    echo "icount: '$n' is in $BASELINE but no workload of that name was measured (renamed or removed? re-baseline: tools/icount.sh --rebaseline)" >&2
    fail=1
  fi
done
printf '%-16s %15s %15s %8s\n' workload baseline now change
for w in "${selected[@]}"; do
  IFS='|' read -r name _ _ <<<"$w"
  cur=${now[$name]}
  b=${base[$name]:-}
  if [ -z "$b" ]; then
    printf '%-16s %15s %15s\n' "$name" - "$cur"
    echo "icount: '$name' was measured but has no entry in $BASELINE; add it on purpose: tools/icount.sh --rebaseline $name" >&2
    fail=1
    continue
  fi
  pct=$(awk -v a="$cur" -v b="$b" 'BEGIN { printf "%+.2f", (a - b) * 100 / b }')
  printf '%-16s %15s %15s %7s%%\n' "$name" "$b" "$cur" "$pct"
  if awk -v a="$cur" -v b="$b" -v p="$BUDGET_PCT" 'BEGIN { exit !(a > b * (1 + p / 100)) }'; then
    echo "icount: $name grew by more than ${BUDGET_PCT}% over the baseline" >&2
    fail=1
    grew=1
  elif awk -v a="$cur" -v b="$b" -v p="$BUDGET_PCT" 'BEGIN { exit !(a < b * (1 - p / 100)) }'; then
    echo "icount: $name dropped by more than ${BUDGET_PCT}% below the baseline" >&2
    fail=1
    dropped=1
  fi
done
if [ "$fail" = 1 ]; then
  if [ "$grew" = 1 ]; then
    cat >&2 <<MSG
icount: a workload executes more instructions than the committed baseline allows.
If the slowdown is intended (a model feature that costs time), re-baseline on purpose:
  tools/icount.sh --rebaseline NAME... && git add $BASELINE
and say in the commit message what got slower and why. Otherwise, profile:
  valgrind --tool=callgrind --toggle-collect='$TOGGLE' $BIN run scenarios/bench/erlang-a-c100.toml --set calls=100000 -q --threads 1
MSG
  fi
  if [ "$dropped" = 1 ]; then
    cat >&2 <<MSG
icount: a count fell by more than the budget. Either the measurement broke (the toggle pattern
'$TOGGLE' now covers less of the run: a function renamed or inlined, or the workload changed),
or the engine really got cheaper and the baseline is stale (a stale baseline would let a real
regression of the same size through). If the speed-up is real, re-baseline on purpose:
  tools/icount.sh --rebaseline NAME... && git add $BASELINE
and say in the commit message what got faster and why.
MSG
  fi
  die 1 "FAILED (budget ${BUDGET_PCT}% both ways, baseline $BASELINE)"
fi
echo "icount: ok (budget ${BUDGET_PCT}% both ways)"
