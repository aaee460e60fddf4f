#!/usr/bin/env python3
"""Prints N-minute means over replications of timeline.csv for platform scenarios (standard
library only). For charts with confidence bands, use `callsim report DIR` instead."""
import argparse, collections, csv, signal, os, sys

COLS = ["offered", "connected", "served", "failed_refused", "failed_error", "failed_blocked",
        "failed_timeout", "retries", "accounts_blocked_max", "pdd_ms_p95"]


def minutes(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"MINUTES must be a whole number >= 1, got {s}")
    return v


def mean(xs):
    xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dir", help="output directory of `callsim run --out DIR`")
    ap.add_argument("minutes", nargs="?", type=minutes, default=5, help="bucket width in minutes (default 5)")
    a = ap.parse_args()
    path = os.path.join(a.dir, "timeline.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        print(f"error: cannot read {path}: {e}", file=sys.stderr)
        sys.exit(2)
    missing = [c for c in ["t_s"] + COLS if rows and c not in rows[0]]
    if not rows or missing:
        print(f"error: {path}: expected a timeline.csv of callsim run (missing: {', '.join(missing) or 'rows'})", file=sys.stderr)
        sys.exit(2)
    acc = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in rows:
        b = int(float(r["t_s"]) // 60) // a.minutes * a.minutes
        for c in COLS:
            acc[b][c].append(float(r[c]) if r[c] else float("nan"))
    print(f"{'clock':>6}{'offered':>9}{'ok':>8}{'refused':>8}{'error':>7}{'blocked':>8}{'timeout':>8}{'retries':>8}{'acc_blk':>8}{'pdd95ms':>9}")
    for b, r in sorted(acc.items()):
        ok = mean(r["connected"]) + mean(r["served"])
        print(f"{b//60:>3}:{b%60:02}{mean(r['offered']):>9.0f}{ok:>8.0f}{mean(r['failed_refused']):>8.0f}{mean(r['failed_error']):>7.0f}"
              f"{mean(r['failed_blocked']):>8.0f}{mean(r['failed_timeout']):>8.0f}{mean(r['retries']):>8.0f}{mean(r['accounts_blocked_max']):>8.0f}{mean(r['pdd_ms_p95']):>9.0f}")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    main()
