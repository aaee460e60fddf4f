//! `plan`'s logic: targets (`METRIC <= VALUE`), the one-sided confidence decision, the search
//! for the least lever value at which every target holds, and the analytic estimate that seeds
//! it. Pure: the caller supplies a function that evaluates a grid point with more replications.
//!
//! The decision at confidence c for `metric <= threshold` over n replications: the one-sided
//! upper bound mean + t(c, n-1) sd / sqrt(n) at or below the threshold is a pass; the lower
//! bound mean - t sd / sqrt(n) above it is a fail; anything else is unclear, and the point gets
//! more replications until it is clear or the budget is spent.

use crate::analytic;
use crate::dist::DurationDist;
use crate::model::config::{ModelConfig, OverLimit};
use crate::stats::t_quantile;

/// A comparison of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Le,
    Lt,
    Ge,
    Gt,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }
    fn holds(self, x: f64, thr: f64) -> bool {
        match self {
            Op::Le => x <= thr,
            Op::Lt => x < thr,
            Op::Ge => x >= thr,
            Op::Gt => x > thr,
        }
    }
    fn upper_is_worse(self) -> bool {
        matches!(self, Op::Le | Op::Lt)
    }
}

/// `METRIC OP VALUE`, e.g. `dial_delay_ms_p95@peak <= 2000`.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub metric: String,
    pub op: Op,
    pub threshold: f64,
}

impl Target {
    pub fn text(&self) -> String {
        format!(
            "{} {} {}",
            self.metric,
            self.op.as_str(),
            number(self.threshold)
        )
    }
}

/// A threshold as written, in exponent form when plain digits would be unreadable (`1e-320`
/// printed as 320 digits).
pub fn number(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-6..1e15).contains(&a) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// Parses a target (the metric name is checked later against the scenario's metrics).
pub fn parse_target(s: &str) -> Result<Target, String> {
    let ops = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)];
    let Some((pos, len, op)) = ops
        .iter()
        .filter_map(|(t, op)| s.find(t).map(|p| (p, t.len(), *op)))
        .min_by_key(|(p, l, _)| (*p, usize::MAX - l))
    else {
        return Err(format!(
            "--target `{s}`: expected METRIC OP VALUE with OP one of <=, <, >=, > (e.g. 'abandon_ratio <= 0.01')"
        ));
    };
    let metric = s[..pos].trim();
    let value = s[pos + len..].trim();
    if metric.is_empty() {
        return Err(format!(
            "--target `{s}`: no metric before `{}`",
            op.as_str()
        ));
    }
    let threshold: f64 = value.parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| {
        format!("--target `{s}`: `{value}` is not a number (give delays in the metric's unit, e.g. ms for dial_delay_ms_p95)")
    })?;
    Ok(Target {
        metric: metric.to_string(),
        op,
        threshold,
    })
}

/// Why a target can never hold, if it cannot: every metric is at least 0, and a ratio (`unit`
/// "ratio") at most 1. Such a target would search the whole range for nothing.
pub fn never_holds(t: &Target, unit: &str) -> Option<String> {
    let (lo, hi) = (0.0, if unit == "ratio" { 1.0 } else { f64::INFINITY });
    let th = t.threshold;
    let never = match t.op {
        Op::Le => th < lo,
        Op::Lt => th <= lo,
        Op::Ge => th > hi,
        Op::Gt => th >= hi,
    };
    never.then(|| {
        let range = if hi.is_finite() {
            "a ratio lies in [0, 1]"
        } else {
            "the metric is never below 0"
        };
        format!("--target `{}` can never hold: {range}", t.text())
    })
}

/// The verdict on one target at one point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Unclear,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unclear => "unclear",
        }
    }
}

/// One target judged over replication values.
#[derive(Clone, Debug)]
pub struct Judgement {
    pub n: usize,
    pub mean: f64,
    /// The one-sided bound on the side that must meet the threshold.
    pub bound: f64,
    /// The one-sided bound on the other side (beyond the threshold: a clear fail).
    pub far: f64,
    pub verdict: Verdict,
}

/// How many times a point may be judged: at `start` replications, then after each doubling up
/// to `max` (2, 4, 8, 16 and 20 for 2..20: five looks).
pub fn looks(start: u32, max: u32) -> u32 {
    let (mut n, mut k) = (start.max(1), 1);
    while n < max {
        n = n.saturating_mul(2).min(max);
        k += 1;
    }
    k
}

/// The confidence each look must have so that a point judged up to `looks` times still meets
/// `confidence` overall (Bonferroni): stopping at the first look that passes would otherwise
/// pass a target that does not hold far more often than 1 - `confidence`.
pub fn per_look(confidence: f64, looks: u32) -> f64 {
    1.0 - (1.0 - confidence) / f64::from(looks.max(1))
}

/// Judges `values` (NaN: undefined in that replication, left out) against `t`, with a
/// one-sided bound at `confidence` (per look: see `per_look`). Replications that all give the
/// same value have no spread to make an interval of (a blocking ratio of 0 in every one of a
/// few short replications says little about a ratio of 0.4%): such a point stays unclear,
/// so it gets more replications, unless `last` (the most it may get), when the common value
/// is judged as it is.
pub fn judge(t: &Target, values: &[f64], confidence: f64, last: bool) -> Judgement {
    let e = crate::stats::estimate(values, 0.95);
    if e.n == 0 {
        return Judgement {
            n: 0,
            mean: f64::NAN,
            bound: f64::NAN,
            far: f64::NAN,
            verdict: Verdict::Unclear,
        };
    }
    let no_spread = e.n >= 2 && e.sd == 0.0;
    let half = if e.n < 2 {
        f64::INFINITY
    } else if no_spread {
        0.0
    } else {
        t_quantile(confidence, (e.n - 1) as f64) * e.sd / (e.n as f64).sqrt()
    };
    let (bound, far) = if t.op.upper_is_worse() {
        (e.mean + half, e.mean - half)
    } else {
        (e.mean - half, e.mean + half)
    };
    let verdict = if no_spread && !last {
        Verdict::Unclear
    } else if t.op.holds(bound, t.threshold) {
        Verdict::Pass
    } else if !t.op.holds(far, t.threshold) {
        Verdict::Fail
    } else {
        Verdict::Unclear
    };
    Judgement {
        n: e.n,
        mean: e.mean,
        bound,
        far,
        verdict,
    }
}

/// All targets together: a pass needs every target to pass; one clear fail fails.
pub fn combine(v: &[Verdict]) -> Verdict {
    if v.contains(&Verdict::Fail) {
        Verdict::Fail
    } else if v.iter().all(|x| *x == Verdict::Pass) {
        Verdict::Pass
    } else {
        Verdict::Unclear
    }
}

/// The outcome of a search over grid indices 0..len.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The least index that passes; `uncertain_from` is set when the point(s) just below it
    /// stayed unclear, so the answer lies between that index and this one.
    Found {
        index: usize,
        uncertain_from: Option<usize>,
    },
    /// No index passes (the highest was evaluated and did not).
    None,
}

/// Finds the least index whose verdict is Pass, assuming verdicts are monotone (fail ... pass),
/// evaluating as few indices as possible: from `guess` (an analytic estimate) it brackets by
/// doubling steps, then bisects. `eval(i)` returns the final verdict of index i (after any
/// extra replications); it is called at most once per index.
pub fn search<E>(
    len: usize,
    guess: Option<usize>,
    eval: &mut dyn FnMut(usize) -> Result<Verdict, E>,
) -> Result<Answer, E> {
    assert!(len > 0);
    let mut memo: Vec<Option<Verdict>> = vec![None; len];
    let mut get = |i: usize, memo: &mut Vec<Option<Verdict>>| -> Result<Verdict, E> {
        if let Some(v) = memo[i] {
            return Ok(v);
        }
        let v = eval(i)?;
        memo[i] = Some(v);
        Ok(v)
    };
    // Invariant once bracketed: lo (if any) does not pass, hi passes.
    let (mut lo, mut hi): (Option<usize>, usize);
    match guess.map(|g| g.min(len - 1)) {
        Some(g) => {
            if get(g, &mut memo)? == Verdict::Pass {
                hi = g;
                lo = None;
                let mut step = 1;
                while hi > 0 {
                    let i = hi.saturating_sub(step);
                    if get(i, &mut memo)? == Verdict::Pass {
                        hi = i;
                        step *= 2;
                    } else {
                        lo = Some(i);
                        break;
                    }
                }
            } else {
                let mut last_fail = g;
                let mut step = 1;
                loop {
                    if last_fail == len - 1 {
                        return Ok(Answer::None);
                    }
                    let i = (last_fail + step).min(len - 1);
                    if get(i, &mut memo)? == Verdict::Pass {
                        hi = i;
                        lo = Some(last_fail);
                        break;
                    }
                    last_fail = i;
                    step *= 2;
                }
            }
        }
        None => {
            if get(len - 1, &mut memo)? != Verdict::Pass {
                return Ok(Answer::None);
            }
            hi = len - 1;
            lo = None;
            if len > 1 {
                if get(0, &mut memo)? == Verdict::Pass {
                    hi = 0;
                } else {
                    lo = Some(0);
                }
            }
        }
    }
    while let Some(l) = lo {
        if hi - l <= 1 {
            break;
        }
        let mid = l + (hi - l) / 2;
        if get(mid, &mut memo)? == Verdict::Pass {
            hi = mid;
        } else {
            lo = Some(mid);
        }
    }
    // The bracket's lower end may be unclear (the analytic estimate often lands right at the
    // boundary): look below it, by doubling steps, for a clear fail, so the range the answer
    // is uncertain over is as narrow as evaluations can make it, not the whole grid below. A
    // pass below an unclear point (noise against monotonicity) ends the look too.
    let mut step = 1;
    while let Some(l) = lo {
        if memo[l] != Some(Verdict::Unclear) || l == 0 {
            break;
        }
        let i = l.saturating_sub(step);
        if get(i, &mut memo)? != Verdict::Unclear {
            break;
        }
        lo = Some(i);
        step *= 2;
    }
    Ok(Answer::Found {
        index: hi,
        uncertain_from: uncertain_from(&memo, hi),
    })
}

/// An unclear point between the highest clear fail and the answer `hi` makes the answer
/// uncertain: the true boundary lies anywhere above that fail.
fn uncertain_from(memo: &[Option<Verdict>], hi: usize) -> Option<usize> {
    let last_fail = (0..hi).rev().find(|&i| memo[i] == Some(Verdict::Fail));
    let from = last_fail.map_or(0, |f| f + 1);
    (from..hi)
        .any(|i| memo[i] == Some(Verdict::Unclear))
        .then_some(from)
}

/// Evaluated (index, verdict) pairs that contradict monotonicity: a pass below a clear fail.
pub fn contradictions(evaluated: &[(usize, Verdict)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for &(i, vi) in evaluated {
        for &(j, vj) in evaluated {
            if i < j && vi == Verdict::Pass && vj == Verdict::Fail {
                out.push((i, j));
            }
        }
    }
    out
}

/// An analytic estimate of the lever value meeting one target, with the model it comes from.
pub struct Estimate {
    /// The lever value, in `unit` (rates per second).
    pub value: f64,
    pub unit: &'static str,
    pub model: String,
    pub caveats: String,
}

/// Mean arrival rate (calls/s, rate_scale applied) of the sources dialling through carrier
/// `carrier`, over [a, b] seconds since midnight, with their mean legs per call.
fn offered(
    cfg: &ModelConfig,
    carrier: usize,
    a: f64,
    b: f64,
) -> Option<(f64, f64, &crate::model::config::SourceConfig, usize)> {
    let mut calls = 0.0;
    let mut legs = 0.0;
    let mut first = None;
    let mut sources = 0;
    for s in &cfg.sources {
        if s.behaviour.carrier != carrier || !s.behaviour.client.stages.is_empty() {
            continue;
        }
        let crate::model::config::ArrivalSpec::Profile(p) = &s.arrivals else {
            return None;
        };
        let rate = p.integral(a, b) / (b - a) * s.behaviour.rate_scale;
        calls += rate;
        legs += rate * s.behaviour.flow.legs.mean();
        first.get_or_insert(s);
        sources += 1;
    }
    let s = first?;
    (calls > 0.0).then_some((calls, legs / calls, s, sources))
}

/// The analytic estimate for a lever `carriers.NAME.rate` (M/D/1 for a delay percentile) or
/// `carriers.NAME.channels` (Erlang C for a delay percentile, Erlang A for abandonment with an
/// exponential or fixed patience), where
/// the scenario and target map onto one; None otherwise.
pub fn analytic_estimate(
    cfg: &ModelConfig,
    lever: &str,
    t: &Target,
    window: Option<(f64, f64)>,
) -> Option<Estimate> {
    let parts: Vec<&str> = lever.split('.').collect();
    let ["carriers", name, key] = parts[..] else {
        return None;
    };
    let ci = cfg.carriers.iter().position(|c| c.name == name)?;
    let (a, b) = window.unwrap_or((cfg.start.as_secs_f64(), cfg.end.as_secs_f64()));
    let (calls, legs_per_call, src, sources) = offered(cfg, ci, a, b)?;
    let base = t.metric.split('@').next().unwrap_or("");
    let pct = base
        .strip_prefix("dial_delay_ms_p")
        .and_then(|p| p.parse::<f64>().ok())
        .map(|p| p / 100.0);
    let upper = matches!(t.op, Op::Le | Op::Lt);
    let span = if window.is_some() {
        "in the window"
    } else {
        "over the run"
    };
    match (key, pct) {
        ("rate", Some(q))
            if upper && matches!(cfg.carriers[ci].over_limit, OverLimit::Queue { .. }) =>
        {
            let lambda = calls * legs_per_call;
            let r = analytic::min_dial_rate_for_percentile(lambda, q, t.threshold / 1e3).ok()?;
            Some(Estimate {
                value: r,
                unit: "/s",
                model: format!("M/D/1: {lambda:.3} legs/s (mean {span}) through a dial limit, p{} wait <= {} ms", q * 100.0, t.threshold),
                caveats: "M/D/1 assumes Poisson legs at a constant rate, one token at a time (burst 1) and callers who wait; simulcall fan-out arrives in batches and the day's rate varies, so the simulated answer is usually higher".into(),
            })
        }
        // The channel models take one source's talk time and patience, one leg per call:
        // with several sources or fan-out there is no one model to ask.
        ("channels", _) if upper && sources == 1 && legs_per_call == 1.0 => {
            let hold = mean_s(&src.behaviour.talk_time);
            let queue = matches!(cfg.carriers[ci].over_limit, OverLimit::Queue { .. });
            match (base, &src.behaviour.patience, pct, queue) {
                // A loss system: callers refused when every channel is busy.
                ("fail_ratio", _, _, false) => {
                    let load = calls * hold;
                    let c = analytic::min_channels_for_blocking(load, t.threshold).ok()?;
                    Some(Estimate { value: c as f64, unit: "", model: format!("Erlang B: {load:.3} Erlangs {span} ({calls:.3} calls/s, mean hold {hold:.1} s), P(block) <= {}", t.threshold), caveats: "Erlang B assumes Poisson arrivals at a constant rate and one leg per call refused when every channel is busy (any talk-time distribution); other failures count in fail_ratio too".into() })
                }
                ("abandon_ratio", Some(DurationDist::Exponential { .. }), _, true) => {
                    let p = mean_s(src.behaviour.patience.as_ref()?);
                    let c = analytic::min_channels_for_abandon(calls, hold, p, t.threshold).ok()?;
                    Some(Estimate { value: c as f64, unit: "", model: format!("Erlang A: {calls:.3} calls/s {span}, mean hold {hold:.1} s, mean patience {p:.1} s, P(abandon) <= {}", t.threshold), caveats: "Erlang A assumes Poisson arrivals at a constant rate, one leg per call answered at once, exponential talk time and patience".into() })
                }
                ("abandon_ratio", Some(DurationDist::Fixed(d)), _, true) => {
                    let p = d.as_secs_f64();
                    let c = analytic::min_channels_for_abandon_fixed(calls, hold, p, t.threshold)
                        .ok()?;
                    Some(Estimate { value: c as f64, unit: "", model: format!("Erlang A with fixed patience (M/M/c+D): {calls:.3} calls/s {span}, mean hold {hold:.1} s, patience {p:.1} s, P(abandon) <= {}", t.threshold), caveats: "M/M/c+D assumes Poisson arrivals at a constant rate, one leg per call answered at once, exponential talk time and the same patience for every caller".into() })
                }
                (_, None, Some(q), true) => {
                    let c =
                        analytic::min_channels_for_wait(calls, hold, t.threshold / 1e3, 1.0 - q)
                            .ok()?;
                    Some(Estimate { value: c as f64, unit: "", model: format!("Erlang C: {calls:.3} calls/s {span}, mean hold {hold:.1} s, P(wait > {} ms) <= {:.4}", t.threshold, 1.0 - q), caveats: "Erlang C assumes Poisson arrivals at a constant rate, one leg per call answered at once, exponential talk time and callers who never hang up".into() })
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn mean_s(d: &DurationDist) -> f64 {
    d.mean_s()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t = parse_target("dial_delay_ms_p95@peak <= 2000").unwrap();
        assert_eq!(
            (t.metric.as_str(), t.op, t.threshold),
            ("dial_delay_ms_p95@peak", Op::Le, 2000.0)
        );
        assert_eq!(parse_target("abandon_ratio<0.01").unwrap().op, Op::Lt);
        assert_eq!(parse_target("connect_ratio >= 0.9").unwrap().op, Op::Ge);
        assert!(parse_target("abandon_ratio = 0.01")
            .unwrap_err()
            .contains("OP"));
        assert!(parse_target("abandon_ratio <= x")
            .unwrap_err()
            .contains("not a number"));
        assert!(parse_target("<= 3").unwrap_err().contains("no metric"));
    }

    #[test]
    fn judgement_uses_the_one_sided_bound() {
        let t = parse_target("m <= 10").unwrap();
        // Mean 9.25, sd sqrt(19/12), n 4: bound 9.25 + t(0.95, 3) sd / 2 = 10.73 > 10, and the
        // far bound 7.77 <= 10: unclear.
        let j = judge(&t, &[8.0, 9.0, 9.0, 11.0], 0.95, false);
        assert_eq!(j.verdict, Verdict::Unclear);
        let half = 2.353_363_4 * (19.0f64 / 12.0).sqrt() / 2.0;
        assert!((j.bound - (9.25 + half)).abs() < 1e-6, "{}", j.bound);
        assert!((j.far - (9.25 - half)).abs() < 1e-6);
        assert_eq!(
            judge(&t, &[5.0, 5.5, 6.0], 0.95, false).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judge(&t, &[15.0, 15.5, 16.0], 0.95, false).verdict,
            Verdict::Fail
        );
        let g = parse_target("m >= 10").unwrap();
        assert_eq!(
            judge(&g, &[15.0, 15.5, 16.0], 0.95, false).verdict,
            Verdict::Pass
        );
        assert_eq!(judge(&t, &[f64::NAN], 0.95, true).verdict, Verdict::Unclear);
    }

    #[test]
    fn replications_without_spread_are_judged_only_at_the_last_look() {
        // Blocking 0 in both of two short replications: no interval, so more replications.
        let t = parse_target("fail_ratio <= 0.003").unwrap();
        let j = judge(&t, &[0.0, 0.0], 0.95, false);
        assert_eq!((j.verdict, j.bound), (Verdict::Unclear, 0.0));
        assert_eq!(judge(&t, &[0.0; 16], 0.95, true).verdict, Verdict::Pass);
        assert_eq!(judge(&t, &[0.5; 16], 0.95, true).verdict, Verdict::Fail);
        assert_eq!(
            judge(&t, &[0.5, 0.5], 0.95, false).verdict,
            Verdict::Unclear
        );
    }

    #[test]
    fn thresholds_print_readably() {
        assert_eq!(number(1e-320), "1e-320");
        assert_eq!(number(0.003), "0.003");
        assert_eq!(number(2000.0), "2000");
        assert_eq!(number(0.0), "0");
        let t = parse_target("fail_ratio <= 1e-320").unwrap();
        assert_eq!(t.text(), "fail_ratio <= 1e-320");
    }

    #[test]
    fn each_look_is_stricter_by_the_number_of_looks() {
        assert_eq!(looks(2, 2), 1);
        assert_eq!(looks(2, 16), 4);
        assert_eq!(looks(2, 20), 5);
        assert_eq!(looks(5, 40), 4);
        assert_eq!(looks(10, 80), 4);
        assert!((per_look(0.95, 5) - 0.99).abs() < 1e-12);
        assert_eq!(per_look(0.95, 1), 0.95);
    }

    #[test]
    fn search_finds_the_boundary_with_few_evaluations() {
        for len in 1..40 {
            for answer in 0..=len {
                for guess in [None, Some(0), Some(len / 2), Some(len - 1)] {
                    let mut calls = Vec::new();
                    let got = search::<String>(len, guess, &mut |i| {
                        calls.push(i);
                        Ok(if i >= answer {
                            Verdict::Pass
                        } else {
                            Verdict::Fail
                        })
                    })
                    .unwrap();
                    let want = if answer == len {
                        Answer::None
                    } else {
                        Answer::Found {
                            index: answer,
                            uncertain_from: None,
                        }
                    };
                    assert_eq!(got, want, "len {len} answer {answer} guess {guess:?}");
                    let mut uniq = calls.clone();
                    uniq.sort();
                    uniq.dedup();
                    assert_eq!(uniq.len(), calls.len(), "an index evaluated twice");
                    assert!(
                        calls.len() <= 2 * (usize::BITS - len.leading_zeros()) as usize + 2,
                        "{} evaluations for len {len}",
                        calls.len()
                    );
                }
            }
        }
    }

    #[test]
    fn unclear_points_below_the_answer_make_it_uncertain() {
        let got = search::<String>(10, None, &mut |i| {
            Ok(match i {
                0..=4 => Verdict::Fail,
                5 | 6 => Verdict::Unclear,
                _ => Verdict::Pass,
            })
        })
        .unwrap();
        assert_eq!(
            got,
            Answer::Found {
                index: 7,
                uncertain_from: Some(5)
            }
        );
        // From a guess at an unclear point, the search looks below it for a clear fail: the
        // range starts above the fail found (3), not at the bottom of the grid.
        let mut calls = Vec::new();
        let got = search::<String>(10, Some(6), &mut |i| {
            calls.push(i);
            Ok(match i {
                0..=3 => Verdict::Fail,
                4..=6 => Verdict::Unclear,
                _ => Verdict::Pass,
            })
        })
        .unwrap();
        assert_eq!(
            got,
            Answer::Found {
                index: 7,
                uncertain_from: Some(4)
            }
        );
        assert_eq!(calls, [6, 7, 5, 3]);
        assert_eq!(
            contradictions(&[(2, Verdict::Pass), (5, Verdict::Fail)]),
            [(2, 5)]
        );
    }
}
