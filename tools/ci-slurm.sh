#!/usr/bin/env bash
# End-to-end check of deploy/slurm/ on a real one-node Slurm cluster (tools/slurm-local.sh):
#   1. stand-in: deploy/slurm/submit.sh runs a 4-shard array and the dependent merge with a
#      stand-in callsim (a shell script that writes shard-I-of-N.csv from the Slurm variables
#      and concatenates them in order); the merged file must be exactly the expected one;
#   2. the same with shard 1 failing: submit.sh --wait must fail and the merge must not run;
#   3. the real thing: a 3-shard sweep of the CallRail carrier rate through submit.sh, merged
#      on the cluster, must be byte-identical (cmp) to the same sweep run in one process.
# Stops the daemons it started on exit. As root (installs packages); about a minute.
#   tools/ci-slurm.sh
#   CALLSIM_BIN=/path/to/callsim tools/ci-slurm.sh    check another build
# When this callsim has no `sweep` command yet, part 3 cannot run: exit 1 saying so, unless
# CALLSIM_SLURM_ALLOW_MISSING=1 (then parts 1-2 run and it exits 0, saying part 3 was skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# CALLSIM_BIN: another callsim build to check (default: this checkout's release build).
BIN=${CALLSIM_BIN:-$repo/target/release/callsim}
SCENARIO=scenarios/callrail-2018-05-14.toml
SWEEP_ARGS=(--vary carriers.carrier.rate=16/s..24/s:4/s -n 3)
SHARDS=3

say() { echo "ci-slurm: $*"; }
fail() {
  echo "ci-slurm: FAILED: $*" >&2
  exit 1
}

if [ -z "${CALLSIM_BIN:-}" ]; then
  [ -x "$BIN" ] || cargo build --release --locked >/dev/null
fi
[ -x "$BIN" ] || fail "no callsim binary at $BIN"
have_sweep=1
if ! "$BIN" sweep --help >/dev/null 2>&1 || ! "$BIN" merge --help >/dev/null 2>&1; then
  have_sweep=0
  if [ "${CALLSIM_SLURM_ALLOW_MISSING:-}" = 1 ]; then
    say "this callsim ($BIN) has no sweep/merge command: the real sharded sweep (part 3) is SKIPPED (CALLSIM_SLURM_ALLOW_MISSING=1); the cluster and deploy/slurm/ are checked with a stand-in"
  else
    fail "this callsim ($BIN) has no sweep/merge command ('callsim sweep --help' fails), so the sharded sweep cannot be checked. Build a callsim that has them, or set CALLSIM_SLURM_ALLOW_MISSING=1 to check only the cluster and deploy/slurm/ with a stand-in"
  fi
fi

# Jobs run as root on this node and read these paths directly.
work=$(mktemp -d /tmp/ci-slurm.XXXXXX)
# Stop on exit only the daemons this run started (not those an earlier slurm-local.sh started).
STATE=${SLURM_LOCAL_DIR:-/var/lib/callsim-slurm-local}/started
before=$(cat "$STATE" 2>/dev/null || true)
cleanup() {
  local rc=$? mine
  mine=$(comm -13 <(printf '%s\n' "$before" | sort) <(sort "$STATE" 2>/dev/null) | awk '{print $2}')
  if [ -n "$mine" ]; then
    # shellcheck disable=SC2086
    tools/slurm-local.sh stop $mine || true
  else
    say "leaving the Slurm daemons running: this run did not start them"
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

start=$SECONDS
tools/slurm-local.sh
say "cluster up in $((SECONDS - start)) s"

# 1. Stand-in callsim: implements only what deploy/slurm/ calls.
cat >"$work/standin-callsim" <<'SH'
#!/usr/bin/env bash
set -euo pipefail
cmd=$1; shift
case "$cmd" in
  sweep)
    [ "${1:-}" != --help ] || exit 0
    scenario=$1; shard= out=
    while [ $# -gt 0 ]; do
      case "$1" in --shard) shard=$2; shift ;; --out) out=$2; shift ;; esac
      shift
    done
    [ "$shard" = auto ] || { echo "stand-in: expected --shard auto, got '$shard'" >&2; exit 2; }
    i=$SLURM_ARRAY_TASK_ID n=$SLURM_ARRAY_TASK_COUNT
    [ "${STANDIN_FAIL_SHARD:-}" != "$i" ] || { echo "stand-in: shard $i fails on purpose" >&2; exit 1; }
    mkdir -p "$out"
    echo "shard $i of $n, $(basename "$scenario")" >"$out/shard-$i-of-$n.csv"
    ;;
  merge)
    [ "${1:-}" != --help ] || exit 0
    dir=$1 out=$3
    n=$(ls "$dir" | sed -n 's/^shard-0-of-\([0-9]*\)\.csv$/\1/p')
    [ -n "$n" ] || { echo "stand-in: no shard 0 in $dir" >&2; exit 1; }
    mkdir -p "$out"
    for ((i = 0; i < n; i++)); do cat "$dir/shard-$i-of-$n.csv"; done >"$out/sweep.csv"
    ;;
  *) exit 2 ;;
esac
SH
chmod +x "$work/standin-callsim"

# submit LOG ARGS...: deploy/slurm/submit.sh ARGS under a time limit (a job that never runs would
# otherwise block sbatch --wait for ever); its output to LOG, or here if LOG is -. Returns its
# exit status; exits the script if the time limit was hit.
STEP_TIMEOUT=${CI_SLURM_STEP_TIMEOUT:-300}
submit() {
  local log=$1 rc=0
  shift
  if [ "$log" = - ]; then
    timeout "$STEP_TIMEOUT" deploy/slurm/submit.sh "$@" || rc=$?
  else
    timeout "$STEP_TIMEOUT" deploy/slurm/submit.sh "$@" >"$log" 2>&1 || rc=$?
  fi
  if [ "$rc" = 124 ]; then
    [ "$log" = - ] || cat "$log" >&2
    squeue >&2 || true
    fail "deploy/slurm/submit.sh did not finish within $STEP_TIMEOUT s (CI_SLURM_STEP_TIMEOUT)"
  fi
  return "$rc"
}

t=$SECONDS
submit - --shards 4 --out "$work/standin" --callsim "$work/standin-callsim" --wait \
  "$SCENARIO" --vary carriers.carrier.rate=10/s,20/s ||
  fail "the stand-in sweep through deploy/slurm/submit.sh failed"
for i in 0 1 2 3; do echo "shard $i of 4, $(basename "$SCENARIO")"; done >"$work/standin-expected.csv"
cmp "$work/standin-expected.csv" "$work/standin/merged/sweep.csv" ||
  fail "the stand-in's merged file differs from the 4 shards in order"
say "part 1 ok: 4-task array + dependent merge through deploy/slurm/submit.sh ($((SECONDS - t)) s)"

# 2. A failing shard: the merge must be cancelled and submit.sh --wait must fail.
t=$SECONDS
rc=0
export STANDIN_FAIL_SHARD=1 # read by the stand-in in the jobs (sbatch exports the environment)
submit "$work/fail.log" --shards 4 --out "$work/standin-fail" --callsim "$work/standin-callsim" \
  --wait "$SCENARIO" || rc=$?
unset STANDIN_FAIL_SHARD
if [ "$rc" != 1 ]; then
  cat "$work/fail.log" >&2
  fail "submit.sh --wait exited $rc although shard 1 failed; expected 1"
fi
grep -q "shard 1 fails on purpose" "$work/fail.log" || { cat "$work/fail.log" >&2; fail "the failing shard's log was not shown"; }
[ ! -e "$work/standin-fail/merged/sweep.csv" ] || fail "the merge ran although shard 1 failed"
say "part 2 ok: a failed shard cancels the merge and fails submit.sh --wait ($((SECONDS - t)) s)"

# 3. The real sharded sweep against the single-process one.
if [ "$have_sweep" = 0 ]; then
  say "part 3 SKIPPED: no sweep command in this callsim"
  say "ok (cluster and deploy/slurm/ only)"
  exit 0
fi
t=$SECONDS
submit - --shards "$SHARDS" --out "$work/cluster" --callsim "$BIN" --wait \
  "$SCENARIO" "${SWEEP_ARGS[@]}" || fail "the sharded sweep through deploy/slurm/submit.sh failed"
say "sharded sweep on the cluster: $((SECONDS - t)) s"
t=$SECONDS
"$BIN" sweep "$SCENARIO" "${SWEEP_ARGS[@]}" --out "$work/single" >/dev/null
say "single-process sweep: $((SECONDS - t)) s"
[ -s "$work/single/sweep.csv" ] || fail "the single-process sweep wrote no sweep.csv"
cmp "$work/single/sweep.csv" "$work/cluster/merged/sweep.csv" ||
  fail "the merged sweep.csv differs from the single-process one"
say "part 3 ok: merged sweep.csv of $SHARDS shards is byte-identical to the single-process sweep ($(wc -l <"$work/single/sweep.csv") lines)"
say "ok"
