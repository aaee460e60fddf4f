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


def easycallnow(d, F):
    tl = load(os.path.join(d, "timeline.csv"))
    lb = load(os.path.join(d, "stages_timeline.csv"), stage="lb")
    reps = sorted(tl)
    refused = lambda r: num(r, "failed_refused") + num(r, "failed_timeout")
    share = lambda r: refused(r) / max(num(r, "offered"), 1)
    onset = [first(tl[k], "15:30", "15:50", lambda r: share(r) > 0.01) for k in reps]
    F.add("Complaints from 15:35; update at 15:40 (\"an issue for a few minutes\")",
          "first minute with over 1% of requests failing: " + times(onset),
          all(o is not None and minute("15:35") <= o <= minute("15:41") for o in onset), True,
          "the slow-query episode is a scheduled change at 15:38")
    back = [share(tl[k][minute("15:45")]) for k in reps]
    F.add("15:40: \"the service is coming back\"", "share failing at 15:45: " + ci(back),
          mean_of(back) < 0.01, True, "the episode is scheduled to end at 15:43")
    rec = [first(tl[k], "15:50", "16:10", lambda r: share(r) > 0.01) for k in reps]
    F.add("15:55: the problem recurs", "first failing minute after 15:50: " + times(rec),
          all(o is not None and minute("15:53") <= o <= minute("15:57") for o in rec), True,
          "episode scheduled at 15:54")
    rest = [first(tl[k], "16:00", "16:30", lambda r: share(r) < 0.01) for k in reps]
    F.add("16:12: service restored", "first minute under 1% failing after 16:00: " + times(rest),
          all(o is not None and minute("16:10") <= o <= minute("16:14") for o in rest), True,
          "episode scheduled to end at 16:10")
    third = [first(tl[k], "16:15", "16:45", lambda r: share(r) > 0.01) for k in reps]
    F.add("16:30: interrupted again", "first failing minute after 16:15: " + times(third),
          all(o is not None and minute("16:28") <= o <= minute("16:32") for o in third), True,
          "episode scheduled at 16:29")
    brief = [sum(1 for r in span(tl[k], "17:10", "17:30") if share(r) > 0.01) for k in reps]
    F.add("17:22: interrupted again \"briefly\"", "minutes with over 1% failing, 17:10-17:30: " + ci(brief),
          1 <= mean_of(brief) <= 6, True, "episode scheduled 17:21-17:24")
    full = [max(num(r, "sessions_in_use_max") for r in span(lb[k], "15:54", "16:10")) for k in reps]
    F.add("Sessions ran out at the 2,000 limit", "most sessions in use, 15:54-16:10: " + ci(full),
          mean_of(full) >= 2000, False, "emerges: slow queries hold sessions")
    normal = [max(num(r, "sessions_in_use_max") for r in span(lb[k], "15:30", "15:37")) for k in reps]
    F.add("Sessions \"significantly higher than normal\"", "most sessions in use, 15:30-15:37: " + ci(normal),
          mean_of(normal) < 0.5 * mean_of(full), False, "emerges")
    after = [total(tl[k], "17:30", "17:50", "failed_refused") for k in reps]
    F.add("The actions (sessions 2,000 to 12,000, more resources; time not given): \"since these actions were taken, no further service issues\"",
          "requests refused after the raise (17:30 here): " + ci(after), mean_of(after) == 0, True,
          "cannot fail here: the raise comes after the last scheduled episode (17:24); the raised limit is tested in the sessions-12000 variant instead (tests/incidents.rs)")
    F.add("\"a queue backup of queries\" in the database", "the database has no capacity: no queue", None, False,
          "needs a dependency with finite capacity")
    rate = [total(tl[k], "15:30", "17:30", "first_attempts") / 7200 for k in reps]
    F.add("Token authentication is called \"many 000's of times per second\"",
          "requests per second, 15:30-17:30: " + ci(rate), mean_of(rate) >= 2000, True,
          "the rate is an input; many thousands means at least 2,000/s")


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
    p95_0 = [mean_of([num(r, "latency_ms_p95") for r in span(gw[k], "08:00", "08:12")]) for k in reps]
    p95_1 = [mean_of([num(r, "latency_ms_p95") for r in span(gw[k], "08:12", "08:24")]) for k in reps]
    F.add("08:12: higher request latency", f"gateway p95, 08:00-08:12: {ci(p95_0)} ms; 08:12-08:24: {ci(p95_1)} ms",
          mean_of(p95_1) > 1.5 * mean_of(p95_0), False,
          "emerges: filling pods serve slower (slowdown_at_limit)" if mean_of(p95_1) > 1.5 * mean_of(p95_0)
          else "latency does not depend on load or memory before a crash")
    fail = lambda r: num(r, "failed")
    ff = [first(tl[k], "08:12", "10:00", lambda r: fail(r) > 0) for k in reps]
    F.add("From 08:12: timeouts and 503s for part of the API", "first minute with failures: " + times(ff),
          all(o is not None and o <= minute("08:15") for o in ff), False, "the first crash waits for the leak to fill a pod")
    crashes = [total(gw[k], "08:12", "09:30", "pod_crashes") for k in reps]
    F.add("Pods crash and do not restore: a restart loop", "pod crashes 08:12-09:30: " + ci(crashes),
          mean_of(crashes) > 6, False, "emerges from the leak")
    dark = [sum(1 for r in span(gw[k], "08:12", "09:30") if num(r, "pods_up_min") == 0) for k in reps]
    F.add("Reduced availability \"for part of the API\" (a partial outage)",
          "minutes 08:12-09:30 with no gateway pod up (every request refused): " + ci(dark),
          mean_of(dark) == 0, False, "no pod up for minutes: the pods crash together or in a cascade")
    added = [total(gw[k], "08:12", "09:30", "pods_added") for k in reps]
    F.add("The autoscaler \"reacted too late\"", "pods added by the autoscaler 08:12-09:30: " + ci(added),
          mean_of(added) > 0, False, "busy share stays far under the target: the autoscaler never acts")
    last = []
    for k in reps:
        ms = [m for m in sorted(gw[k]) if num(gw[k][m], "pod_crashes") > 0]
        last.append(ms[-1] if ms else None)
    F.add("A manual rescale mitigated the main problem (time not given)", "last pod crash: " + times(last),
          all(x is not None and x <= minute("09:40") for x in last), True, "rescale scheduled at 09:30")
    between = [total(gw[k], "09:40", "12:00", "pod_crashes") for k in reps]
    F.add("12:00: fixed (the leak fix released)", "crashes after the rescale and before 12:00: " + ci(between),
          mean_of(between) > 0, True,
          "the fix matters only if crashes go on until it; here they stop at the rescale"
          if mean_of(between) == 0 else "crashes go on after the rescale until the fix")


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
