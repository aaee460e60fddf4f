#!/usr/bin/env bash
# Runs the benchmark suite and writes results/benchmarks-latest.md and results/benchmarks-latest.csv
# (one row per measurement, with machine, git revision and the command that reproduces it).
#   benches/run.sh            everything, including the SimPy peer (installs simpy in a venv)
#   benches/run.sh --no-peers skip SimPy
# Takes about 2 minutes on 2 cores. See results/BENCHMARKS.md for what each number means.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=1
[ "${1:-}" = "--no-peers" ] && PEERS=0

cargo build --release --locked >/dev/null 2>&1
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$([ -n "$(git status --porcelain 2>/dev/null)" ] && echo "+dirty" || true)
CPU=$(awk -F: '/model name/ {gsub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo)
CORES=$(nproc)
MEM=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
RUSTC=$(rustc --version)
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
CSV=results/benchmarks-latest.csv
MD=results/benchmarks-latest.md
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "bench,metric,value,unit,command" >"$TMP/rows.csv"
row() { echo "$1,$2,$3,$4,\"$5\"" >>"$TMP/rows.csv"; }

# 1. Throughput, measured in one run: hand loop, callsim, workloads, parallel scaling.
echo "running cargo bench --bench throughput ..." >&2
cargo bench --bench throughput 2>/dev/null | grep '^{' >"$TMP/throughput.jsonl"
python3 - "$TMP/throughput.jsonl" "$TMP/rows.csv" <<'PY'
import json, sys
cmd = "cargo bench --bench throughput"
with open(sys.argv[2], "a") as out:
    for line in open(sys.argv[1]):
        d = json.loads(line)
        b = d.pop("bench")
        for k, v in d.items():
            unit = {"wall_s": "s", "wall_s_1_thread": "s", "wall_s_all": "s", "calls_per_s": "calls/s",
                    "events_per_s": "events/s", "ratio_to_handloop": "x", "speedup": "x"}.get(k, "")
            out.write(f'{b},{k},{v},{unit},"{cmd}"\n')
PY

# 2. Peak memory at 1M and 10M calls (no --calls-csv): memory must follow in-flight work.
for n in 1000000 10000000; do
  cmd="callsim run scenarios/bench/erlang-a-c100.toml --set calls=$n -q"
  /usr/bin/time -f '%M %e' -o "$TMP/time" target/release/callsim run scenarios/bench/erlang-a-c100.toml --set calls=$n -q >/dev/null
  read -r kb s <"$TMP/time"
  row "memory_erlang_a" "peak_rss_kb_${n}" "$kb" "KB" "/usr/bin/time -f %M $cmd"
  row "memory_erlang_a" "wall_s_${n}" "$s" "s" "$cmd"
done

# 3. The SimPy peer on the same system.
if [ "$PEERS" = 1 ]; then
  echo "running the SimPy peer (1M calls) ..." >&2
  benches/peers/run_simpy.sh --calls 1000000 --seed 42 >"$TMP/simpy.json"
  python3 - "$TMP/simpy.json" "$TMP/rows.csv" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read())
cmd = "benches/peers/run_simpy.sh --calls 1000000 --seed 42"
with open(sys.argv[2], "a") as out:
    out.write(f'simpy_erlang_a,calls_per_s,{d["calls_per_s"]},calls/s,"{cmd}"\n')
    out.write(f'simpy_erlang_a,peak_rss_kb,{d["peak_rss_kb"]},KB,"{cmd}"\n')
    out.write(f'simpy_erlang_a,p_abandon,{d["p_abandon"]},,"{cmd}"\n')
    out.write(f'simpy_erlang_a,version,{d["simpy_version"]},,"{cmd}"\n')
PY
fi

# 4. The table.
cp "$TMP/rows.csv" "$CSV"
python3 - "$CSV" "$MD" "$REV$DIRTY" "$CPU" "$CORES" "$MEM" "$RUSTC" "$DATE" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
v = {(r["bench"], r["metric"]): r["value"] for r in rows}
f = lambda b, m: float(v[(b, m)]) if (b, m) in v else float("nan")
rev, cpu, cores, mem, rustc, date = sys.argv[3:9]
hl = f("handloop_erlang_a", "calls_per_s"); cs = f("callsim_erlang_a", "calls_per_s"); sp = f("simpy_erlang_a", "calls_per_s")
lines = [
    f"# Benchmark results ({date})", "",
    f"git {rev}; {cpu}, {cores} cores, {mem}; {rustc}. Produced by `benches/run.sh`.", "",
    "| measurement | value | command |", "|---|---|---|",
    f"| hand-written loop, Erlang-A c=100 | {hl/1e6:.2f} M calls/s | `cargo bench --bench throughput` |",
    f"| callsim, same system | {cs/1e6:.2f} M calls/s, {f('callsim_erlang_a','events_per_s')/1e6:.2f} M events/s | `cargo bench --bench throughput` |",
    f"| callsim / hand loop | {cs/hl:.3f}x | (same run) |",
    f"| SimPy {v.get(('simpy_erlang_a','version'),'?')}, same system | {sp/1e3:.1f} k calls/s | `benches/peers/run_simpy.sh --calls 1000000` |",
    f"| callsim / SimPy | {cs/sp:.0f}x | |",
    f"| simulcall + token bucket, 3 legs | {f('callsim_simulcall','calls_per_s')/1e6:.2f} M calls/s, {f('callsim_simulcall','events_per_s')/1e6:.2f} M events/s | `cargo bench --bench throughput` |",
    f"| full CallRail day, 1 replication | {f('callsim_callrail_day','wall_s'):.3f} s | `cargo bench --bench throughput` |",
    f"| 8 CallRail replications, 1 thread vs {cores} | {f('parallel_8_replications','speedup'):.2f}x speed-up, identical output: {v.get(('parallel_8_replications','identical'))} | `cargo bench --bench throughput` |",
    f"| peak RSS, 1M calls | {f('memory_erlang_a','peak_rss_kb_1000000')/1024:.1f} MB | `callsim run scenarios/bench/erlang-a-c100.toml --set calls=1000000 -q` |",
    f"| peak RSS, 10M calls | {f('memory_erlang_a','peak_rss_kb_10000000')/1024:.1f} MB | `callsim run scenarios/bench/erlang-a-c100.toml -q` |",
    f"| SimPy peak RSS, 1M calls | {f('simpy_erlang_a','peak_rss_kb')/1024:.1f} MB | |",
]
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "wrote $CSV and $MD" >&2
