#!/usr/bin/env python3
"""Prints a timeline.csv as 5-minute means across replications (stdlib only).
Usage: tools/timeline_view.py DIR/timeline.csv [MINUTES]"""
import csv, sys, collections
path = sys.argv[1]; step = int(sys.argv[2]) if len(sys.argv) > 2 else 5
acc = collections.defaultdict(lambda: collections.defaultdict(list))
for r in csv.DictReader(open(path)):
    h, m = map(int, r["clock"][:5].split(":"))
    b = (h * 60 + m) // step * step
    key = (r["variant"], b)
    for k in ["offered", "connected", "abandoned", "backup_routed", "legs_dialed", "dial_delay_ms_p50", "dial_delay_ms_p95", "queue_len_max", "redials"]:
        v = r[k]
        acc[key][k].append(float(v) if v else float("nan"))
def mean(xs):
    xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else float("nan")
print(f"{'variant':<14}{'clock':>6}{'offer/min':>10}{'abandon%':>9}{'backup%':>8}{'legs/s':>7}{'p50 s':>7}{'p95 s':>7}{'q max':>7}")
for (v, b), d in sorted(acc.items()):
    off = mean(d["offered"]); ab = mean(d["abandoned"])
    print(f"{v:<14}{b//60:>3}:{b%60:02}{off:>10.0f}{100*ab/max(off,1):>9.1f}{100*mean(d['backup_routed'])/max(off,1):>8.0f}{mean(d['legs_dialed'])/60:>7.1f}{mean(d['dial_delay_ms_p50'])/1000:>7.1f}{mean(d['dial_delay_ms_p95'])/1000:>7.1f}{mean(d['queue_len_max']):>7.0f}")
