#!/usr/bin/env python3
"""Prints a timeline.csv as N-minute means across replications (standard library only).
For charts with confidence bands, use `callsim report DIR` instead."""
import argparse, collections, csv, signal, sys

COLS = ["offered", "connected", "abandoned", "backup_routed", "legs_dialed", "dial_delay_ms_p50",
        "dial_delay_ms_p95", "queue_len_max", "redials"]


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
    ap.add_argument("timeline", help="DIR/timeline.csv written by `callsim run --out DIR`")
    ap.add_argument("minutes", nargs="?", type=minutes, default=5, help="bucket width in minutes (default 5)")
    a = ap.parse_args()
    acc = collections.defaultdict(lambda: collections.defaultdict(list))
    widths = set()
    try:
        with open(a.timeline, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        print(f"error: cannot read {a.timeline}: {e}", file=sys.stderr)
        sys.exit(2)
    missing = [c for c in ["variant", "t_s"] + COLS if rows and c not in rows[0]]
    if not rows or missing:
        print(f"error: {a.timeline}: expected a timeline.csv of callsim run (missing: {', '.join(missing) or 'rows'})", file=sys.stderr)
        sys.exit(2)
    ts = sorted({float(r["t_s"]) for r in rows})
    interval_s = min((b - x for x, b in zip(ts, ts[1:])), default=60.0)
    for r in rows:
        b = int(float(r["t_s"]) // 60) // a.minutes * a.minutes
        for k in COLS:
            acc[(r["variant"], b)][k].append(float(r[k]) if r[k] else float("nan"))
    print(f"{'variant':<14}{'clock':>6}{'offer/min':>10}{'abandon%':>9}{'backup%':>8}{'legs/s':>7}{'p50 s':>7}{'p95 s':>7}{'q max':>7}")
    for (v, b), d in sorted(acc.items()):
        off = mean(d["offered"]); ab = mean(d["abandoned"])
        print(f"{v:<14}{b//60:>3}:{b%60:02}{off * 60 / interval_s:>10.0f}{100*ab/max(off,1):>9.1f}{100*mean(d['backup_routed'])/max(off,1):>8.0f}"
              f"{mean(d['legs_dialed'])/interval_s:>7.1f}{mean(d['dial_delay_ms_p50'])/1000:>7.1f}{mean(d['dial_delay_ms_p95'])/1000:>7.1f}{mean(d['queue_len_max']):>7.0f}")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    main()
