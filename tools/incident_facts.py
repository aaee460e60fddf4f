#!/usr/bin/env python3
"""Checks a platform replay against its postmortem's facts (standard library only).

Usage: tools/incident_facts.py INCIDENT DIR
  INCIDENT  easycallnow | simwood | voucherify
  DIR       output of `callsim run scenarios/<incident>.toml --variant actual -n N --out DIR`

For each fact the postmortem states, prints the replay's measured value (mean over the
replications with a 95% t confidence interval, or the range over replications for times), what
the postmortem says, a verdict by the rule written next to the fact, and whether the value is
scheduled in the scenario (an input: agreement is then no evidence for the model) or emerges
from it. Output is the markdown table docs/incidents.md quotes.
"""
import csv, math, os, statistics, sys

T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
       10: 2.228, 12: 2.179, 14: 2.145, 19: 2.093, 24: 2.064, 29: 2.045, 39: 2.023, 49: 2.010}


def t95(df):
    best = min((k for k in T95 if k >= df), default=None)
    return T95[best] if best else 1.96


def minute(clock):
    h, m = clock.split(":")[:2]
    return int(h) * 60 + int(m)


def hhmm(m):
    return "-" if m is None else f"{int(m) // 60:02d}:{int(m) % 60:02d}"


def load(path, **filters):
    """rows[rep][minute] = row, for the rows matching the filters (e.g. stage="lb")."""
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if any(r.get(k) != v for k, v in filters.items()):
                continue
            out.setdefault(int(r["replication"]), {})[minute(r["clock"])] = r
    if not out:
        sys.exit(f"incident_facts: no rows in {path} matching {filters}")
    return out


def num(r, col):
    v = r.get(col, "")
    return float(v) if v not in ("", "nan", "NaN") else float("nan")


def span(series, a, b):
    return [series[m] for m in sorted(series) if minute_of(a) <= m < minute_of(b)]


def minute_of(x):
    return minute(x) if isinstance(x, str) else x


def total(series, a, b, col):
    return sum(num(r, col) for r in span(series, a, b))


def first(series, a, b, pred):
    for m in sorted(series):
        if minute_of(a) <= m < minute_of(b) and pred(series[m]):
            return m
    return None


def ci(xs):
    xs = [x for x in xs if x is not None and x == x]
    if not xs:
        return "no value"
    mu = statistics.fmean(xs)
    if len(xs) < 2:
        return fmt(mu)
    h = t95(len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))
    return f"{fmt(mu)} [{fmt(mu - h)}, {fmt(mu + h)}]"


def times(xs):
    vals = [x for x in xs if x is not None]
    none = len(xs) - len(vals)
    if not vals:
        return f"never ({len(xs)} of {len(xs)})"
    lo, hi = min(vals), max(vals)
    s = hhmm(lo) if lo == hi else f"{hhmm(lo)}-{hhmm(hi)}"
    return s + (f"; never in {none} of {len(xs)}" if none else "")


def fmt(x):
    if x != x:
        return "nan"
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


class Facts:
    def __init__(self):
        self.rows = []

    def add(self, fact, value, ok, scheduled, why=""):
        """ok: True (reproduced), False (contradicted) or None (not expressible)."""
        verdict = {True: "reproduced", False: "contradicted", None: "not expressible"}[ok]
        if scheduled and ok:
            verdict += ", scheduled"
        self.rows.append((fact, value, verdict, why))

    def print(self, reps):
        print(f"| postmortem | replay ({reps} replications) | verdict | why |")
        print("|---|---|---|---|")
        for fact, value, verdict, why in self.rows:
            print(f"| {fact} | {value} | {verdict} | {why} |")


def mean_of(xs):
    xs = [x for x in xs if x is not None and x == x]
    return statistics.fmean(xs) if xs else float("nan")


def runs(series, a, b, pred):
    """The runs of consecutive minutes in [a, b) where pred holds: [(first minute, length)]."""
    out, start, n = [], None, 0
    for m in sorted(series):
        if not (minute_of(a) <= m < minute_of(b)):
            continue
        if pred(series[m]):
            if start is None:
                start, n = m, 0
            n += 1
        elif start is not None:
            out.append((start, n))
            start = None
    if start is not None:
        out.append((start, n))
    return out


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[i]


def easycallnow(d, F):
    tl = load(os.path.join(d, "timeline.csv"))
    lb = load(os.path.join(d, "stages_timeline.csv"), stage="lb")
    reps = sorted(tl)
    refused = lambda r: num(r, "failed_refused") + num(r, "failed_timeout")
    share = lambda r: refused(r) / max(num(r, "offered"), 1)
    down = lambda r: share(r) > 0.01
    before = [total(tl[k], "15:30", "15:35", "failed_refused") for k in reps]
    F.add("Normal service until the complaints from 15:35", "requests refused 15:30-15:35: " + ci(before),
          mean_of(before) == 0, True, "the bad-index process is scheduled to start at 15:35 (its cause is not given)")
    onset = [first(tl[k], "15:35", "17:30", down) for k in reps]
    early = sum(1 for o in onset if o is not None and o <= minute("15:41"))
    F.add("15:35-15:40: the first interruption, \"for a few minutes\"",
          "first minute with over 1% of requests failing: " + times(onset)
          + f"; by 15:41 in {early} of {len(reps)} replications", early * 2 >= len(reps), False,
          "emerges" if early * 2 >= len(reps) else
          "each replication is one possible afternoon: the first bad-index episode comes after a random gap "
          "from 15:35 (mean 20 min), so the postmortem's immediate first interruption is one of the less likely ones")
    outs = {k: runs(tl[k], "15:35", "17:30", down) for k in reps}
    count = [len(outs[k]) for k in reps]
    lo, hi = pct(count, 0.1), pct(count, 0.9)
    F.add("Four interruptions in 15:35-17:30 (15:35, 15:55, 16:30, 17:22)",
          f"interruptions (runs of minutes with over 1% failing): {ci(count)}; 10-90% of replications: {lo}-{hi}",
          lo <= 4 <= hi, False, "emerges from random bad-index episodes (their rate is a guess fitted to this afternoon)")
    lengths = [n for k in reps for (_, n) in outs[k]]
    l5, l95 = pct(lengths, 0.05), pct(lengths, 0.95)
    F.add("Interruptions last from \"briefly\" (17:22) to 17 minutes (15:55-16:12); about 5 and 10 minutes the others",
          f"lengths of {len(lengths)} interruptions: median {pct(lengths, 0.5)} min, 5-95%: {l5}-{l95} min",
          l5 <= 2 and 17 <= l95, False, "emerges: an outage lasts as long as its episode, plus the retries it leaves behind")
    frac = [sum(n for (_, n) in outs[k]) / 115 for k in reps]
    F.add("About 33 of the 115 minutes 15:35-17:30 interrupted (29%)",
          f"share of minutes interrupted: {ci(frac)}; 10-90%: {fmt(pct(frac, 0.1))}-{fmt(pct(frac, 0.9))}",
          pct(frac, 0.1) <= 0.29 <= pct(frac, 0.9), False, "emerges (episode lengths and gaps are guesses)")
    between = []
    for k in reps:
        rows = [r for m, r in sorted(tl[k].items()) if minute("15:35") <= m < minute("17:30") and not down(r)]
        between.append(sum(refused(r) for r in rows) / max(1, sum(num(r, "offered") for r in rows)))
    F.add("Service normal between the interruptions", "share failing in the other minutes: " + ci(between),
          mean_of(between) < 0.001, False, "emerges: the queue drains as soon as the good plan is back")
    full = [max([num(lb[k][m], "sessions_in_use_max") for (s0, n) in outs[k] for m in range(s0, s0 + n)] or [float("nan")])
            for k in reps]
    F.add("Sessions ran out at the 2,000 limit", "most sessions in use during interruptions before 17:30: " + ci(full),
          mean_of(full) >= 2000, False, "emerges: queries queue at the database while their sessions are held")
    normal = [max(num(r, "sessions_in_use_max") for r in span(lb[k], "15:30", "15:35")) for k in reps]
    F.add("Sessions \"significantly higher than normal\"", "most sessions in use, 15:30-15:35: " + ci(normal),
          mean_of(normal) < 0.5 * mean_of(full), False, "emerges")
    held = [mean_of([num(lb[k][m], "latency_ms_p95") for (s0, n) in outs[k] for m in range(s0, s0 + n)]) for k in reps]
    F.add("\"A queue backup of queries\" in the database",
          "p95 session length during interruptions: " + ci(held) + " ms (the slow query alone: p95 5.5 s)",
          mean_of(held) > 5500, False, "emerges: lookups wait for one of the database's connections (a guess: 1,000)")
    # Only a replication in which a slow-query episode still runs after the actions tests them:
    # in the others nothing would be refused anyway.
    slow_after = [k for k in reps
                  if any(num(r, "latency_ms_p95") > 2000 for r in span(lb[k], "17:31", "17:45"))]
    after = [total(tl[k], "17:31", "17:45", "failed_refused") for k in slow_after]
    F.add("The actions (sessions 2,000 to 12,000, more database resources): \"since these actions were taken, no further service issues\"",
          f"requests refused 17:31-17:45 (the actions at 17:30 here; their time is not given), in the {len(slow_after)} "
          f"of {len(reps)} replications where a slow-query episode runs after them (sessions' p95 over 2 s): " + ci(after),
          len(slow_after) > 0 and mean_of(after) == 0, False,
          "the actions are scheduled; that the episodes after them cause no failure emerges (variants sessions-12000 "
          "and more-resources separate the two actions)")
    rate = [total(tl[k], "15:30", "17:30", "first_attempts") / 7200 for k in reps]
    F.add("Token authentication is called \"many 000's of times per second\"",
          "requests per second, 15:30-17:30: " + ci(rate), mean_of(rate) >= 1990, True,
          "the rate is an input: 2,000/s, the least \"many 000's\" allows")


def simwood(d, F):
    tl = load(os.path.join(d, "timeline.csv"))
    st = os.path.join(d, "stages_timeline.csv")
    sv = load(st, stage="routing-slough-volta")
    other = load(st, stage="routing-other")
    credit = load(st, stage="credit")
    ten = os.path.join(d, "tenants_timeline.csv")
    via_other = load(ten, source="via-other-nodes")
    reps = sorted(tl)
    # Calls connected per first attempt: first attempts follow the rate profile whatever
    # happens, so this is the volume against what it would be ("lower than normal").
    ratio = lambda k, a, b: total(tl[k], a, b, "connected") / max(1, total(tl[k], a, b, "first_attempts"))
    base = [ratio(k, "10:40", "11:05") for k in reps]
    early = [ratio(k, "11:08", "11:17") / b - 1 for k, b in zip(reps, base)]
    late = [ratio(k, "11:17", "11:26") / b - 1 for k, b in zip(reps, base)]
    F.add("11:08: call volumes lower than normal and falling",
          f"calls connected per first attempt against 10:40-11:05: 11:08-11:17 {ci(early)}; 11:17-11:26 {ci(late)}",
          mean_of(early) < 0 and mean_of(late) < mean_of(early), False,
          "emerges: 503s at the two routing nodes (their lookups time out on the slowing master) grow with the fragmentation, whose growth is scheduled (a guess)")
    p95 = lambda rows, a, b: [mean_of([num(r, "latency_ms_p95") for r in span(rows[k], a, b)]) for k in reps]
    sv0, sv1 = p95(sv, "10:40", "11:05"), p95(sv, "11:08", "11:26")
    pdd = lambda q, a, b: [mean_of([num(r, q) for r in span(tl[k], a, b)]) for k in reps]
    pdd0, pdd1 = pdd("pdd_ms_p95", "10:40", "11:05"), pdd("pdd_ms_p95", "11:08", "11:26")
    F.add("11:07: higher post-dial delay (two routing nodes alert intermittently)",
          f"p95 PDD 10:40-11:05: {ci(pdd0)} ms; 11:08-11:26: {ci(pdd1)} ms (p95 of the two nodes' lookups: {ci(sv0)} -> {ci(sv1)} ms)",
          mean_of(pdd1) > 2 * mean_of(pdd0), False, "emerges from the master's latency, scheduled to grow from 11:07 (the cause)")
    e503 = [total(tl[k], "11:07", "11:27", "failed_error") / max(1, total(tl[k], "11:07", "11:27", "offered")) for k in reps]
    F.add("503s for \"a relatively small percentage of calls\" 11:07-11:27", "share of calls failing with 503: " + ci(e503),
          0 < mean_of(e503) < 0.1, False, "emerges: routing lookups slower than their 1 s timeout (a guess) on the two nodes")
    oe = [total(other[k], "11:07", "11:27", "errors") for k in reps]
    o0, o1 = p95(other, "10:40", "11:05"), p95(other, "11:08", "11:26")
    F.add("Only two routing nodes (Slough, Volta) affected; \"other nodes ... functional\"",
          f"lookup errors at the other routing nodes 11:07-11:27: {ci(oe)}; their p95 latency {ci(o0)} -> {ci(o1)} ms",
          mean_of(oe) == 0 and mean_of(o1) < 2 * mean_of(o0), False,
          "routing nodes are separate stages; which nodes read the unstable master is an input (a quarter of the calls: a guess)")
    fo = [first(sv[k], "11:00", "12:30", lambda r: num(r, "failovers") > 0) for k in reps]
    F.add("11:27: a new master elected automatically", "failover minute: " + times(fo),
          all(o is not None and minute("11:17") <= o <= minute("11:37") for o in fo)
          and abs(mean_of(fo) - minute("11:27")) <= 5, False,
          f"emerges: health probes slower than 1 s for 10 s (mean {hhmm(mean_of(fo))}); the minute depends on the guessed growth of the fragmentation and the probe timeout")
    after = [ratio(k, "11:35", "11:53") / b - 1 for k, b in zip(reps, base)]
    F.add("After 11:27 call volumes \"immediately began to climb, reaching normal levels quite quickly\"",
          "calls connected per first attempt 11:35-11:53 against 10:40-11:05: " + ci(after),
          mean_of(after) > -0.05 and mean_of(after) > mean_of(late), False,
          "emerges: the routing nodes follow the failover; the blocked accounts carry a small share of calls")
    blocked = [max(num(r, "accounts_blocked_max") for r in span(tl[k], "11:27", "11:54")) for k in reps]
    at27 = [num(tl[k][minute("11:10")], "accounts_blocked_max") for k in reps]
    F.add("By 11:27 \"wider spread reports of 403\"; \"numerous accounts\" credit-blocked, from different times",
          f"accounts blocked at 11:10: {ci(at27)}; by 11:54: {ci(blocked)} of 10,000",
          mean_of(blocked) > 100 and mean_of(blocked) > 2 * mean_of(at27), False,
          "emerges: the out-of-band credit lookups fail on the master at its connection-failure rate (a guess), before the failover and, at the standby rate (a guess), after it")
    net = [total(via_other[k], "11:30", "11:54", "failed_blocked") for k in reps]
    F.add("403s \"network wide and not just restricted to a few nodes\"",
          "calls refused with 403 11:30-11:54 among those through the other routing nodes: " + ci(net),
          mean_of(net) > 0, False, "emerges: an account blocked is refused whatever node its calls take")
    left = [max(num(r, "accounts_blocked_max") for r in span(tl[k], "11:55", "11:56")) for k in reps]
    F.add("11:54: blocked accounts reset manually", "accounts blocked 11:55: " + ci(left), mean_of(left) < 10, True,
          "the reset is scheduled")
    quiet = [total(tl[k], "11:55", "13:46", "failed_blocked") / max(1, total(tl[k], "11:55", "13:46", "offered")) for k in reps]
    still = [max(num(r, "accounts_blocked_max") for r in span(tl[k], "11:55", "13:46")) for k in reps]
    F.add("11:54-13:47: \"service was working normally\"",
          f"share of calls refused with 403, 11:55-13:46: {ci(quiet)}; accounts blocked by 13:45: {ci(still)}",
          mean_of(quiet) < 0.01, False,
          "emerges from the demoted master's standby error rate (0.01%, a guess): a few accounts are blocked again")
    wave = [max(num(r, "accounts_blocked_max") for r in span(tl[k], "13:46", "13:49")) for k in reps]
    gone = [num(tl[k][minute("13:49")], "accounts_blocked_max") for k in reps]
    F.add("13:47: a second, short wave of credit-locked accounts, corrected at once (1 minute)",
          f"accounts blocked 13:46-13:49: {ci(wave)}; at 13:49: {ci(gone)}",
          mean_of(wave) > mean_of(still) and mean_of(gone) < 10, True,
          "the old master's trouble at 13:46:30 is scheduled (the model does not explain it), and so is the correction at 13:48")
    new = [total(credit[k], "14:02", "14:30", "accounts_blocked") for k in reps]
    F.add("14:01: the calls-in-progress service stopped, later patched and restarted; \"the incident did not then recur\"",
          "accounts newly blocked 14:02-14:30: " + ci(new), mean_of(new) == 0, True, "the stop and the patched restart are scheduled")
    c0, c1 = p95(credit, "10:40", "11:05"), p95(credit, "11:08", "11:26")
    p50_0, p50_1 = pdd("pdd_ms_p50", "10:40", "11:05"), pdd("pdd_ms_p50", "11:08", "11:26")
    F.add("The calls-in-progress (credit) service is out of band",
          f"credit lookups' p95 {ci(c0)} -> {ci(c1)} ms while the median PDD stays {ci(p50_0)} -> {ci(p50_1)} ms",
          mean_of(p50_1) < 1.5 * mean_of(p50_0), False, "credit is an out-of-band stage (in_path = false): calls do not wait for it")


def voucherify(d, F):
    gw = load(os.path.join(d, "stages_timeline.csv"), stage="gateway")
    tl = load(os.path.join(d, "timeline.csv"))
    reps = sorted(gw)
    p95 = lambda a, b: [mean_of([num(r, "latency_ms_p95") for r in span(gw[k], a, b)]) for k in reps]
    p95_0, p95_1 = p95("08:00", "08:12"), p95("08:12", "08:16")
    crash_at = [first(gw[k], "08:12", "10:00", lambda r: num(r, "pod_crashes") > 0) for k in reps]
    up = mean_of(p95_1) > 1.5 * mean_of(p95_0)
    F.add("08:12: higher request latency", f"gateway p95, 08:00-08:12: {ci(p95_0)} ms; 08:12-08:16: {ci(p95_1)} ms"
          f" (first crash: {times(crash_at)})", up, False,
          "emerges: filling pods serve slower (slowdown_at_limit) before any crash" if up
          else "latency does not depend on load or memory before a crash")
    fail = lambda r: num(r, "failed")
    ff = [first(tl[k], "08:12", "10:00", lambda r: fail(r) > 0) for k in reps]
    early = all(o is not None and o <= minute("08:15") for o in ff)
    F.add("From 08:12: timeouts and 503s for part of the API", "first minute with failures: " + times(ff),
          early, False, "emerges" if early else
          "the first crash waits for the leak to fill a pod (minutes at the assumed flood rate); the postmortem's "
          "08:12 is when it was detected, the flood's start is not given")
    crashes = [total(gw[k], "08:12", "09:30", "pod_crashes") for k in reps]
    F.add("Pods crash and do not restore: a restart loop", "pod crashes 08:12-09:30: " + ci(crashes),
          mean_of(crashes) > 6, False, "emerges from the leak")
    dark = [sum(1 for r in span(gw[k], "08:12", "09:30") if num(r, "pods_up_min") == 0) for k in reps]
    served = [total(tl[k], "08:12", "09:30", "failed") / max(1.0, total(tl[k], "08:12", "09:30", "offered"))
              for k in reps]
    F.add("Reduced availability \"for part of the API\" (a partial outage)",
          "minutes 08:12-09:30 with no gateway pod up at some point: " + ci(dark) + " of 78; share of requests failed: "
          + ci(served), mean_of(dark) == 0, False,
          "partial most of the time, but cascades (survivors take a crashed pod's share and leak faster) leave "
          "minutes with no pod up" if mean_of(dark) > 0 else "emerges: pods crash one at a time")
    added = [total(gw[k], "08:12", "09:30", "pods_added") for k in reps]
    first_add = [first(gw[k], "08:12", "09:30", lambda r: num(r, "pods_added") > 0) for k in reps]
    late = mean_of(added) > 0 and all(a is not None and c is not None and a > c for a, c in zip(first_add, crash_at))
    F.add("The autoscaler \"reacted too late\"", "pods added by the autoscaler 08:12-09:30: " + ci(added)
          + "; first scale-up: " + times(first_add), late, False,
          "emerges: it scales on memory, after the first crashes (stabilization, start time, a ceiling of 12)" if late
          else "it never acts, or acts before the first crash")
    rate = lambda k, a, b, col: total(gw[k], a, b, col) / (minute(b) - minute(a))
    f_before = [total(tl[k], "08:12", "09:30", "failed") / 78 for k in reps]
    f_after = [total(tl[k], "09:40", "12:00", "failed") / 140 for k in reps]
    c_before = [rate(k, "08:12", "09:30", "pod_crashes") * 60 for k in reps]
    c_after = [rate(k, "09:40", "12:00", "pod_crashes") * 60 for k in reps]
    mitig = mean_of(f_after) < 0.2 * mean_of(f_before)
    F.add("A manual rescale mitigated the main problem (time not given)",
          f"failed requests per minute 08:12-09:30: {ci(f_before)}, 09:40-12:00: {ci(f_after)}; "
          f"pod crashes per hour: {ci(c_before)}, then {ci(c_after)}", mitig, False,
          "the rescale is scheduled at 09:30 (a guess); the drop emerges" if mitig
          else "failures go on at the same rate after the rescale")
    between = [total(gw[k], "09:40", "12:00", "pod_crashes") for k in reps]
    after = [total(gw[k], "12:05", "13:00", "pod_crashes") for k in reps]
    p95_n = p95("12:20", "13:00")
    fixed = mean_of(between) > 0 and max(after) == 0 and mean_of(p95_n) < 1.1 * mean_of(p95_0)
    F.add("12:00: fixed (the leak fix released)", "crashes 09:40-12:00: " + ci(between) + "; after 12:05: "
          + ci(after) + f"; gateway p95 12:20-13:00: {ci(p95_n)} ms", fixed, False,
          "the fix is scheduled at 12:00; that crashes go on until it and latency recovers after it emerges" if fixed
          else "the fix matters only if crashes go on until it")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("easycallnow", "simwood", "voucherify"):
        sys.exit(__doc__)
    d = sys.argv[2]
    if not os.path.isdir(d):
        sys.exit(f"incident_facts: {d}: not a directory (expected the --out DIR of callsim run)")
    F = Facts()
    globals()[sys.argv[1]](d, F)
    reps = len(load(os.path.join(d, "timeline.csv")))
    F.print(reps)


if __name__ == "__main__":
    main()
