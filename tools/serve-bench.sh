#!/usr/bin/env bash
# Benchmark of the what-if dashboard: time from a CallRail what-if request (8 replications, a
# dial rate not asked before, so never from the cache) to its first chart update (the first
# `partial` event: charts of the replications done so far) and to the complete result (`done`),
# over loopback against the release binary. Prints each request and the medians; with
# --load, also sends 50 concurrent what-ifs and counts the answers (200 or 503) and the server's
# peak memory.
#
# Usage: tools/serve-bench.sh [--load]     (about 20 s; 2 cores)
# Writes what it prints to results/serve-bench-latest.txt as well.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/callsim ] || cargo build --release --locked
tmp=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
target/release/callsim serve scenarios --bind 127.0.0.1:0 2>"$tmp/serve.log" &
server=$!
for _ in $(seq 100); do grep -q 'http://' "$tmp/serve.log" && break; sleep 0.1; done
port=$(grep -o '127\.0\.0\.1:[0-9]*' "$tmp/serve.log" | head -1 | cut -d: -f2)
out=results/serve-bench-latest.txt
{ echo "# tools/serve-bench.sh ${1:-} on $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
python3 - "$port" "$server" "${1:-}" <<'PY'
import http.client, json, statistics, sys, threading, time
port, pid, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def whatif(rate, reps=8):
    body = json.dumps({"file": "callrail-2018-05-14.toml", "replications": reps,
                       "sets": [f"carriers.carrier.rate={rate}/s"]})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.perf_counter()
    c.request("POST", "/api/run", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    first = done = None
    if r.status == 200:
        while True:
            line = r.fp.readline()
            if not line:
                break
            if line.startswith(b"event: partial") and first is None:
                first = time.perf_counter() - t0
            if line.startswith(b"event: done"):
                done = time.perf_counter() - t0
                break
    else:
        r.read()
    c.close()
    return r.status, first, done

# Warm-up (page load, file cache), then distinct rates.
whatif("19.5")
firsts, dones = [], []
for i, rate in enumerate(["21", "22", "23", "24", "25", "26", "27", "28", "29", "31", "32"]):
    status, first, done = whatif(rate)
    assert status == 200 and first is not None and done is not None, (status, first, done)
    firsts.append(first); dones.append(done)
    print(f"  rate {rate}/s: first chart update {first*1000:.0f} ms, complete {done*1000:.0f} ms")
print(f"median of {len(firsts)}: first chart update {statistics.median(firsts)*1000:.0f} ms "
      f"(min {min(firsts)*1000:.0f}, max {max(firsts)*1000:.0f}); complete {statistics.median(dones)*1000:.0f} ms "
      f"(min {min(dones)*1000:.0f}, max {max(dones)*1000:.0f})")

def rss_kb(key):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(key):
            return int(l.split()[1])
    return 0

if mode == "--load":
    results = []
    def one(i):
        results.append(whatif(f"{10 + i * 0.5}"))
    t0 = time.perf_counter()
    ts = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in ts: t.start()
    for t in ts: t.join()
    wall = time.perf_counter() - t0
    codes = {}
    for s, _, _ in results:
        codes[s] = codes.get(s, 0) + 1
    assert sum(codes.values()) == 50 and set(codes) <= {200, 503}, codes
    print(f"load: 50 concurrent CallRail what-ifs (8 replications each): {codes.get(200, 0)} answered, "
          f"{codes.get(503, 0)} refused with 503, in {wall:.1f} s; server peak RSS {rss_kb('VmHWM:') // 1024} MB")
PY
} | tee "$tmp/out"
kill -TERM "$server"; wait "$server" || true; server=""
grep -q 'stopped' "$tmp/serve.log" && echo "serve-bench: server stopped cleanly" | tee -a "$tmp/out"
mv "$tmp/out" "$out"
