#!/usr/bin/env python3
"""Prints means over replications of timeline.csv (and tenants_timeline.csv) per N minutes for
platform scenarios (stdlib only). Usage: tools/platform_view.py DIR [MINUTES]"""
import csv, sys, collections, os
d = sys.argv[1]; step = int(sys.argv[2]) if len(sys.argv) > 2 else 5
def load(f, key_extra=None):
    acc = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in csv.DictReader(open(os.path.join(d, f))):
        h, m = map(int, r["clock"][:5].split(":"))
        b = (h * 60 + m) // step * step
        k = (r[key_extra] if key_extra else "", b)
        for c, v in r.items():
            try:
                acc[k][c].append(float(v))
            except ValueError:
                pass
    return acc
def mean(xs):
    xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else float("nan")
tl = load("timeline.csv")
print(f"{'clock':>6}{'offered':>9}{'ok':>8}{'refused':>8}{'error':>7}{'blocked':>8}{'timeout':>8}{'retries':>8}{'acc_blk':>8}{'pdd95ms':>9}")
for (_, b), r in sorted(tl.items()):
    ok = mean(r["connected"]) + mean(r["served"])
    print(f"{b//60:>3}:{b%60:02}{mean(r['offered']):>9.0f}{ok:>8.0f}{mean(r['failed_refused']):>8.0f}{mean(r['failed_error']):>7.0f}{mean(r['failed_blocked']):>8.0f}{mean(r['failed_timeout']):>8.0f}{mean(r['retries']):>8.0f}{mean(r['accounts_blocked_max']):>8.0f}{mean(r['pdd_ms_p95']):>9.0f}")
