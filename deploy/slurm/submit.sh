#!/usr/bin/env bash
# Submits a sharded callsim sweep to Slurm: a job array of N tasks (one shard each), then the
# merge, which runs only if every task succeeded (--dependency=afterok:<array job id>; it is
# cancelled, not left pending, if one failed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

usage() {
  cat <<USAGE
usage: deploy/slurm/submit.sh [OPTIONS] SCENARIO [SWEEP ARGS...]

Runs \`callsim sweep SCENARIO [SWEEP ARGS...]\` as N shards on a Slurm cluster and merges them
into exactly what the single-process sweep writes (DIR/merged/sweep.csv and manifest.json).
SWEEP ARGS go to \`callsim sweep\` unchanged: --vary KEY=VALUES (repeatable), -n N, --seed S.
Do not pass --shard, --out or --threads: this script sets them.

Options (each has an environment default):
  --shards N         shards = array tasks (CALLSIM_SHARDS, default 4)
  --out DIR          output directory on a filesystem every node sees (CALLSIM_OUT; required):
                     DIR/shards the partial files, DIR/merged the merged result, DIR/logs the logs
  --callsim PATH     the callsim binary, runnable on every node (CALLSIM_BIN, default: callsim on PATH)
  --cpus-per-task C  CPUs per shard, used as callsim's worker threads (CALLSIM_CPUS, default 1)
  --max-running M    run at most M tasks at once (--array=0-(N-1)%M)
  --wait             wait for the merge job; exit 0 only if every shard and the merge succeeded
  -h, --help         this text
sbatch's own environment variables apply to both jobs (SBATCH_PARTITION, SBATCH_TIMELIMIT,
SBATCH_ACCOUNT, ...).

Example:
  deploy/slurm/submit.sh --shards 8 --out /nfs/sweeps/callrail-rate --callsim /nfs/bin/callsim \\
    scenarios/callrail-2018-05-14.toml --vary carriers.carrier.rate=10/s..30/s:5/s -n 20
USAGE
}

die() {
  echo "submit: $*" >&2
  exit 2
}

shards=${CALLSIM_SHARDS:-4}
out=${CALLSIM_OUT:-}
callsim=${CALLSIM_BIN:-}
max_running=
cpus=${CALLSIM_CPUS:-1}
wait=0
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) [ $# -ge 2 ] || die "--shards needs a value"; shards=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; out=$2; shift 2 ;;
    --callsim) [ $# -ge 2 ] || die "--callsim needs a value"; callsim=$2; shift 2 ;;
    --max-running) [ $# -ge 2 ] || die "--max-running needs a value"; max_running=$2; shift 2 ;;
    --cpus-per-task) [ $# -ge 2 ] || die "--cpus-per-task needs a value"; cpus=$2; shift 2 ;;
    --wait) wait=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage >&2; die "unknown option '$1' (options come before SCENARIO)" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { usage >&2; die "missing SCENARIO"; }
scenario=$1
shift
for a in "$@"; do
  case "$a" in
    --shard | --shard=* | --out | --out=* | --threads | --threads=*)
      die "do not pass $a: submit.sh sets --shard auto, --out and --threads (from --cpus-per-task) itself" ;;
  esac
done
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || die "--shards must be a positive integer, got '$shards'"
[ -z "$max_running" ] || [[ "$max_running" =~ ^[1-9][0-9]*$ ]] || die "--max-running must be a positive integer, got '$max_running'"
[[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--cpus-per-task must be a positive integer, got '$cpus'"
[ -n "$out" ] || die "--out DIR (or CALLSIM_OUT) is required"
[ -f "$scenario" ] || die "no scenario file '$scenario'"
if [ -z "$callsim" ]; then
  callsim=$(command -v callsim) || die "no callsim on PATH; pass --callsim PATH (or CALLSIM_BIN)"
fi
[ -x "$callsim" ] || die "'$callsim' is not an executable file"
command -v sbatch >/dev/null || die "sbatch not found: is this a Slurm submit host?"
if ! "$callsim" sweep --help >/dev/null 2>&1; then
  die "'$callsim sweep --help' failed: this callsim has no sweep command (too old?)"
fi
"$callsim" merge --help >/dev/null 2>&1 || die "'$callsim merge --help' failed: this callsim has no merge command"

# Absolute paths: the jobs may start in another directory, on another node.
abs() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }
callsim=$(abs "$callsim")
scenario=$(abs "$scenario")
mkdir -p "$out"
out=$(cd "$out" && pwd)
shard_dir=$out/shards
merged=$out/merged
logs=$out/logs
mkdir -p "$shard_dir" "$logs"
if compgen -G "$shard_dir/shard-*" >/dev/null; then
  die "$shard_dir already holds shard files from an earlier run; use a new --out or remove them"
fi

array=0-$((shards - 1))
[ -z "$max_running" ] || array=$array%$max_running
array_id=$(sbatch --parsable --array="$array" --cpus-per-task="$cpus" --output="$logs/sweep-%A_%a.out" \
  "$here/sweep.sbatch" "$callsim" "$shard_dir" "$scenario" "$@")
array_id=${array_id%%;*}
[[ "$array_id" =~ ^[0-9]+$ ]] || die "sbatch did not return a job id for the array (got '$array_id')"
echo "submit: sweep array job $array_id: $shards shard(s) -> $shard_dir (logs $logs/sweep-${array_id}_*.out)"

merge_args=(--parsable --dependency="afterok:$array_id" --kill-on-invalid-dep=yes
  --output="$logs/merge-%j.out")
if [ "$wait" = 1 ]; then
  # --wait blocks until the merge job ends. Its exit status alone is not enough: a merge job
  # cancelled because a shard failed (the dependency can never be met) ends with status 0
  # (seen with Slurm 22.05), so the job's final state is read back as well.
  rc=0
  merge_out=$(sbatch --wait "${merge_args[@]}" "$here/merge.sbatch" "$callsim" "$shard_dir" "$merged") || rc=$?
  merge_id=${merge_out%%;*}
  merge_id=${merge_id%%$'\n'*}
  echo "submit: merge job $merge_id (after the array succeeds) -> $merged (log $logs/merge-$merge_id.out)"
  state=$(scontrol show job -o "$merge_id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true)
  why=$(scontrol show job -o "$merge_id" 2>/dev/null | grep -o 'Reason=[^ ]*' | cut -d= -f2 || true)
  if [ "$rc" != 0 ] || [ "$state" != COMPLETED ] || [ ! -s "$merged/sweep.csv" ]; then
    echo "submit: FAILED: the merge job ended ${state:-in an unknown state} (reason ${why:-?}, sbatch exit $rc)" >&2
    echo "submit: sweep tasks: $(scontrol show job -o "$array_id" 2>/dev/null | grep -o 'ArrayTaskId=[^ ]* .*JobState=[A-Z_]*' | sed 's/ .*JobState=/=/' | tr '\n' ' ')" >&2
    echo "submit: a shard failed (the merge is then cancelled: DependencyNeverSatisfied) or the merge did. Logs:" >&2
    for f in "$logs"/sweep-"${array_id}"_*.out "$logs/merge-$merge_id.out"; do
      [ -f "$f" ] || continue
      echo "--- $f" >&2
      tail -n 20 "$f" >&2
    done
    exit 1
  fi
  echo "submit: done: $merged"
  ls -l "$merged"
else
  merge_id=$(sbatch "${merge_args[@]}" "$here/merge.sbatch" "$callsim" "$shard_dir" "$merged")
  merge_id=${merge_id%%;*}
  echo "submit: merge job $merge_id (after the array succeeds) -> $merged (log $logs/merge-$merge_id.out)"
  echo "submit: follow with: squeue -j $array_id,$merge_id"
fi
