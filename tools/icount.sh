#!/usr/bin/env bash
# Instruction-count guard: counts the instructions the simulation itself executes (valgrind
# callgrind, collection scoped to callsim::model::Model::run) on small fixed workloads, and
# compares them with the baseline committed in results/icount-baseline.txt. Counts repeat
# exactly for the same binary and inputs on a machine of this kind, so a 3% budget is tight and
# never flaky. Run from anywhere:
#   tools/icount.sh               check against the baseline (CI runs this); exit 1 on > 3% growth
#   tools/icount.sh --rebaseline  write the current counts as the new baseline (commit it, and say
#                                 in the commit message why the engine got slower or faster)
set -euo pipefail
cd "$(dirname "$0")/.."
BASELINE=results/icount-baseline.txt
BUDGET_PCT=${ICOUNT_BUDGET_PCT:-3}
BIN=target/release/callsim

if ! command -v valgrind >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "icount: installing valgrind" >&2
    (apt-get update -qq && apt-get install -y -qq valgrind) >/dev/null
  else
    echo "icount: valgrind is required (apt-get install valgrind)" >&2
    exit 2
  fi
fi
[ -x "$BIN" ] || cargo build --release --locked >/dev/null

# name | scenario | overrides
WORKLOADS=(
  "erlang_a_100k|scenarios/bench/erlang-a-c100.toml|calls=100000"
  "simulcall_20k|scenarios/bench/simulcall-dial-limit.toml|calls=20000"
  "callrail_1rep|scenarios/callrail-2018-05-14.toml|replications=1"
)

count() {
  local scenario=$1 set=$2 out
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect='callsim::model::Model::run*' \
    "$BIN" run "$scenario" --set "$set" --quiet --threads 1 >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$out"
  rm -f "$out"
}

declare -A now
for w in "${WORKLOADS[@]}"; do
  IFS='|' read -r name scenario set <<<"$w"
  now[$name]=$(count "$scenario" "$set")
done

if [ "${1:-}" = "--rebaseline" ]; then
  {
    echo "# Instructions executed in callsim::model::Model::run (valgrind callgrind), per workload."
    echo "# Written by tools/icount.sh --rebaseline at $(git rev-parse --short HEAD 2>/dev/null || echo '?'); rustc $(rustc --version | cut -d' ' -f2)."
    for w in "${WORKLOADS[@]}"; do
      IFS='|' read -r name _ _ <<<"$w"
      echo "$name ${now[$name]}"
    done
  } >"$BASELINE"
  echo "icount: wrote $BASELINE"
  cat "$BASELINE"
  exit 0
fi

[ -f "$BASELINE" ] || { echo "icount: no $BASELINE; create it with tools/icount.sh --rebaseline" >&2; exit 2; }
fail=0
printf '%-16s %15s %15s %8s\n' workload baseline now change
for w in "${WORKLOADS[@]}"; do
  IFS='|' read -r name _ _ <<<"$w"
  base=$(awk -v n="$name" '$1 == n {print $2}' "$BASELINE")
  if [ -z "$base" ]; then
    echo "icount: $name has no baseline; run tools/icount.sh --rebaseline" >&2
    fail=1
    continue
  fi
  cur=${now[$name]}
  pct=$(awk -v a="$cur" -v b="$base" 'BEGIN { printf "%+.2f", (a - b) * 100 / b }')
  printf '%-16s %15s %15s %7s%%\n' "$name" "$base" "$cur" "$pct"
  if awk -v a="$cur" -v b="$base" -v p="$BUDGET_PCT" 'BEGIN { exit !(a > b * (1 + p / 100)) }'; then
    echo "icount: $name grew by more than ${BUDGET_PCT}% over the baseline" >&2
    fail=1
  fi
done
if [ "$fail" = 1 ]; then
  cat >&2 <<MSG
icount: FAILED. The simulation executes more instructions than the committed baseline allows.
If the slowdown is intended (a model feature that costs time), re-baseline on purpose:
  tools/icount.sh --rebaseline && git add $BASELINE
and say in the commit message what got slower and why. Otherwise, profile:
  valgrind --tool=callgrind --toggle-collect='callsim::model::Model::run*' $BIN run scenarios/bench/erlang-a-c100.toml --set calls=100000 -q --threads 1
MSG
  exit 1
fi
echo "icount: ok (budget ${BUDGET_PCT}%)"
