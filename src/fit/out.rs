//! Writes a fit as a callsim scenario whose comments give each estimate's source, sample size
//! and 95% CI.

use super::mle::ParamFit;
use super::summary::{Dist, Fit};
use std::fmt::Write;

/// A duration string the scenario reader accepts (microsecond precision, never zero).
pub fn duration(s: f64) -> String {
    let us = (s * 1e6).round().max(1.0) as u64;
    if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else {
        let frac = format!("{:06}", us % 1_000_000);
        format!("{}.{}s", us / 1_000_000, frac.trim_end_matches('0'))
    }
}

/// A clock string `HH:MM:SS` (hours may exceed 23).
pub fn clock(s: f64) -> String {
    let t = s.round() as u64;
    format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
}

/// Natural parameters with their intervals; a parameter whose interval cannot be computed
/// (the likelihood is flat or the fit ran to a boundary) says so instead of printing NaN.
fn fmt_params(f: &ParamFit) -> String {
    f.params()
        .iter()
        .map(|p| {
            if p.lo.is_finite() && p.hi.is_finite() {
                format!("{} {:.4} [{:.4}, {:.4}]", p.name, p.value, p.lo, p.hi)
            } else {
                format!("{} {:.4} (no interval)", p.name, p.value)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The scenario value for a distribution: the chosen fit, or a fixed value when the data barely vary.
fn dist_value(s: &mut String, d: &Dist) -> String {
    if !d.degenerate() {
        return d.fits[0].toml();
    }
    let _ = writeln!(
        s,
        "#   the values barely vary (10th-90th percentile {:.4}-{:.4} s): a fixed value",
        d.p10, d.p90
    );
    if d.median < 1e-3 {
        "\"0\"".into()
    } else {
        format!("\"{}\"", duration(d.median))
    }
}

/// Comment lines for a fitted distribution: every family's AIC and KS distance.
fn dist_comment(s: &mut String, what: &str, d: &Dist) {
    let _ = writeln!(
        s,
        "# {what}: n = {}, median {:.3} s, mean {:.3} s (from the records)",
        d.n, d.median, d.mean
    );
    fits_comment(s, &d.fits);
}

/// One comment line per fitted family, the chosen (best AIC) first.
fn fits_comment(s: &mut String, fits: &[ParamFit]) {
    for (i, f) in fits.iter().enumerate() {
        let _ = writeln!(
            s,
            "#   {} {:<11} AIC {:.1}  KS {:.4}  {}",
            if i == 0 { "chosen" } else { "      " },
            f.family.name(),
            f.aic,
            f.ks,
            fmt_params(f)
        );
    }
    if let Some(m) = fits.first().and_then(ParamFit::point_mass) {
        let _ = writeln!(
            s,
            "#   the chosen fit barely varies (10th-90th percentile within 1%): the fixed value {}",
            duration(m)
        );
    }
}

/// A mean with its 95% interval, `{m:.3} s [{lo:.3}, {hi:.3}]`; `none` when there is no mean
/// (no values), and no interval when there are too few values for one. Never prints NaN.
fn mean_text(m: Option<(f64, f64, f64)>, none: &str) -> String {
    match m {
        Some((m, lo, hi)) if m.is_finite() && lo.is_finite() && hi.is_finite() => {
            format!("{m:.3} s [{lo:.3}, {hi:.3}]")
        }
        Some((m, _, _)) if m.is_finite() => format!("{m:.3} s (too few values for an interval)"),
        _ => none.to_string(),
    }
}

fn header(s: &mut String, f: &Fit) {
    let i = &f.info;
    let _ = writeln!(
        s,
        "# Fitted by `callsim fit` from {} (format {}).",
        i.source,
        i.format.name()
    );
    let _ = writeln!(
        s,
        "# {} rows read, {} used; {} calls: {} first attempts, {} redials.",
        i.rows,
        i.good_rows,
        f.calls,
        f.first_attempts,
        f.calls - f.first_attempts
    );
    for l in i.issues.lines() {
        let _ = writeln!(s, "# warning: {l}");
    }
    let o = &f.outcomes;
    let _ = writeln!(
        s,
        "# Outcomes in the records: connected {}, abandoned {}, no answer {}, failed {}; abandoned share {:.4} [{:.4}, {:.4}].",
        o[0], o[1], o[2], o[3], f.abandon.p, f.abandon.lo, f.abandon.hi
    );
    let ab = f.patience.as_ref().map(|p| p.naive_mean);
    let _ = writeln!(
        s,
        "# Mean wait of answered calls {}; of abandoned calls {}.",
        mean_text(Some(f.answer_wait), "no answered call"),
        mean_text(ab, "fewer than 10 abandoned calls, not estimated")
    );
    if let Some(d) = &f.setup {
        let _ = writeln!(s, "# Post-dial delay (caller record to first leg): mean {:.3} s [{:.3}, {:.3}], median {:.3} s, 90th percentile {:.3} s (n = {}).",
            d.mean, d.mean_lo, d.mean_hi, d.median, d.p90, d.n
        );
    }
    let _ = writeln!(
        s,
        "# Caller numbers were hashed with a per-run random key when read; none is written here."
    );
    let _ = writeln!(
        s,
        "# Intervals are 95%. The carrier is unlimited: records do not show a carrier's limit."
    );
}

fn profile(s: &mut String, f: &Fit, trace: Option<&str>) {
    let p = &f.profile;
    if let Some(t) = trace {
        let (w, d, _) = f.trace.unwrap_or((0, 0, 0.0));
        let _ = writeln!(s, "# Arrivals: the first-attempt instants of the records ({w} written, {d} dropped as too far out of order).");
        let _ = writeln!(s, "trace = {{ file = \"{t}\", column = \"time\" }}");
        return;
    }
    let _ = writeln!(
        s,
        "# Arrival rate of first attempts by clock time, piecewise linear through bin midpoints."
    );
    let _ = writeln!(s, "# Interval {}: {}.", duration(p.interval_s), p.reason);
    if p.days > 1 {
        let _ = writeln!(
            s,
            "# The records span {} days, folded onto one clock day (rates are per-day averages).",
            p.days
        );
    }
    let _ = writeln!(s, "rate = [");
    for b in &p.bins {
        let _ = writeln!(
            s,
            "  [\"{}\", \"{:.6}/s\"],  # {}-{}  n = {}  95% CI [{:.4}, {:.4}]/s",
            clock(b.start_s + b.width_s / 2.0),
            b.rate,
            clock(b.start_s),
            clock(b.start_s + b.width_s),
            b.count,
            b.lo,
            b.hi
        );
    }
    let _ = writeln!(s, "]");
}

fn behaviour(s: &mut String, f: &Fit, talk_file: Option<&str>) {
    if let Some(pf) = &f.patience {
        let _ = writeln!(s, "# Patience: {} abandoned callers' waits (events) and {} waits of callers who were answered or", pf.abandoned, pf.censored);
        let _ = writeln!(
            s,
            "# whose call ended otherwise (right-censored: their patience was at least that long)."
        );
        let (m, l, h) = pf.km_median;
        let km = if m.is_nan() {
            "not reached (more than half the callers were still waiting when answered or ended)"
                .to_string()
        } else {
            format!(
                "{m:.2} s [{l:.2}, {}]",
                if h.is_nan() {
                    "not reached".into()
                } else {
                    format!("{h:.2}")
                }
            )
        };
        let _ = writeln!(
            s,
            "# Kaplan-Meier median {km}; censored MLE mean {:.2} s; the naive mean of abandoned",
            pf.fits[0].mean()
        );
        let _ = writeln!(
            s,
            "# waits, {:.2} s [{:.2}, {:.2}], ignores the censoring and is biased low.",
            pf.naive_mean.0, pf.naive_mean.1, pf.naive_mean.2
        );
        // Patience itself is never seen whole (most waits are censored), so no mean or median
        // "from the records" is given here: the Kaplan-Meier median above is the model-free one.
        let _ = writeln!(
            s,
            "# patience (censored MLE): n = {} ({} abandoned, {} censored)",
            pf.abandoned + pf.censored,
            pf.abandoned,
            pf.censored
        );
        fits_comment(s, &pf.fits);
        let _ = writeln!(s, "patience = {}", pf.fits[0].toml());
    } else {
        let _ = writeln!(
            s,
            "# Patience: fewer than 10 abandoned calls; callers never abandon."
        );
    }
    if let Some(d) = &f.talk {
        dist_comment(s, "talk time (answer to hang-up of the answered leg)", d);
        match talk_file {
            Some(file) if f.talk_empirical.is_some() => {
                let _ = writeln!(s, "#   no family fits (KS above {}): the empirical distribution, 1000 quantiles of the records' talk times in {file}", super::summary::EMPIRICAL_KS);
                let _ = writeln!(s, "talk_time = {{ dist = \"empirical\", file = \"{file}\", column = \"talk_s\" }}");
            }
            _ => {
                let v = dist_value(s, d);
                let _ = writeln!(s, "talk_time = {v}");
            }
        }
    }
    if let Some(d) = &f.setup {
        dist_comment(
            s,
            "post-dial delay (caller's record start to the first leg's start), used as setup_delay",
            d,
        );
        let v = dist_value(s, d);
        let _ = writeln!(s, "setup_delay = {v}");
    } else {
        let _ = writeln!(
            s,
            "# setup_delay: not observable in this format (no caller record); 0."
        );
    }
}

fn flow(s: &mut String, f: &Fit) {
    let _ = writeln!(s, "\n[sources.callers.flow]");
    let fl = &f.flow;
    let _ = writeln!(s, "# Flow mode from calls with 2+ legs: {} start together (simulcall), {} one after another (sequential), {} neither.", fl[0], fl[1], fl[2]);
    let _ = writeln!(
        s,
        "mode = \"{}\"",
        if f.sequential {
            "sequential"
        } else {
            "simulcall"
        }
    );
    let of = f.legs.first().map_or(0, |l| l.of);
    let _ = writeln!(
        s,
        "# Legs per call, {of} calls with legs ({} without any leg):",
        f.calls_without_legs
    );
    for l in &f.legs {
        let _ = writeln!(
            s,
            "#   {} legs: {} calls, share {:.4} [{:.4}, {:.4}]",
            l.k, l.n, l.p, l.lo, l.hi
        );
    }
    if f.legs.len() == 1 {
        let _ = writeln!(s, "legs = {}", f.legs[0].k);
    } else if !f.legs.is_empty() {
        let mut w: Vec<(usize, f64)> = f
            .legs
            .iter()
            .map(|l| (l.k, (l.p * 1e6).round() / 1e6))
            .collect();
        let big = (0..w.len())
            .max_by(|&a, &b| w[a].1.total_cmp(&w[b].1))
            .unwrap_or(0);
        let rest: f64 = w
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != big)
            .map(|(_, x)| x.1)
            .sum();
        w[big].1 = 1.0 - rest;
        let parts: Vec<String> = w.iter().map(|(k, p)| format!("{k} = {p:.6}")).collect();
        let _ = writeln!(s, "legs = {{ {} }}", parts.join(", "));
    }
    for g in &f.groups {
        destination(s, f, g);
    }
}

/// One `[[sources.callers.flow.destinations]]` table with its comments.
fn destination(s: &mut String, f: &Fit, g: &super::summary::DestGroup) {
    let rt = f.ring_timeout_given.or(f.ring_timeout.map(|r| r.0));
    let _ = writeln!(s, "\n[[sources.callers.flow.destinations]]");
    let which = if g.last {
        format!("legs {} and later", g.from_leg)
    } else {
        format!("leg {}", g.from_leg)
    };
    let _ = writeln!(
        s,
        "# {which}: {} legs, {} answered, {} failed at the carrier (not counted).",
        g.legs, g.answered, g.failed
    );
    let _ = writeln!(
        s,
        "# Kaplan-Meier probability of an answer before the ring timeout: {:.4} [{:.4}, {:.4}]",
        g.p, g.lo, g.hi
    );
    let _ = writeln!(s, "# (legs cancelled first, because another leg answered or the caller hung up, are censored).");
    match &g.tta {
        Some(t) => {
            let h = rt.map_or(1.0, |r| t.cdf(r));
            let p = t.cure_p().unwrap_or(g.p);
            let _ = writeln!(s, "# time to answer: {} with a never-answers share p, censored MLE: {}; KS vs Kaplan-Meier {:.4}", t.family.name(), fmt_params(t), t.ks);
            if let Some(m) = t.point_mass() {
                let _ = writeln!(
                    s,
                    "#   it barely varies (10th-90th percentile within 1%): the fixed value {}",
                    duration(m)
                );
            }
            let _ = writeln!(s, "# answer_probability = p (the simulator's model: a leg answers with probability p, after the time to answer,");
            let _ = writeln!(s, "# if that is under the ring timeout); p x P(time to answer < ring timeout) = {:.4} against Kaplan-Meier's {:.4}", p * h, g.p);
            let _ = writeln!(s, "answer_probability = {p:.6}");
            let _ = writeln!(s, "time_to_answer = {}", t.toml());
        }
        None => {
            let _ = writeln!(s, "answer_probability = {:.6}", g.p);
            let _ = writeln!(s, "# time to answer: fewer than 20 answered legs; 0.");
        }
    }
    let seen = f.ring_timeout.map(|(t, n, share)| {
        format!(
            "the most common ringing time of {n} rang-out legs is {} ({:.1}% within ±{:.1} s of it)",
            duration(t.round().max(1.0)),
            100.0 * share,
            super::estimate::ring_tolerance(t)
        )
    });
    match (f.ring_timeout_given, f.ring_timeout) {
        (Some(t), _) => {
            let _ = writeln!(
                s,
                "# ring timeout: given with --ring-timeout; {}",
                seen.as_deref().unwrap_or("no leg in the records rang out")
            );
            let _ = writeln!(s, "ring_timeout = \"{}\"", duration(t));
        }
        (None, Some((t, n, share))) => {
            let _ = writeln!(s, "# ring timeout: the most common ringing time of {n} rang-out legs ({:.1}% within ±{:.1} s of it)", 100.0 * share, super::estimate::ring_tolerance(t));
            let _ = writeln!(s, "ring_timeout = \"{}\"", duration(t.round().max(1.0)));
        }
        (None, None) => {
            let _ = writeln!(s, "# ring timeout: no leg rang out; the default 30s.");
        }
    }
}

fn redial(s: &mut String, f: &Fit) {
    let Some(r) = &f.redial else {
        let _ = writeln!(
            s,
            "\n# Redials: no caller numbers in the records; none modelled."
        );
        return;
    };
    let sh = &r.share;
    let _ = writeln!(s, "\n# Redials: the same (hashed) caller again within the redial window after an unanswered call.");
    let _ = writeln!(s, "# {} of {} eligible calls were redialled: share {:.4} [{:.4}, {:.4}]; at most {} attempts seen.", sh.n, sh.of, sh.p, sh.lo, sh.hi, r.max_attempts);
    for (o, x) in &r.per_outcome {
        let _ = writeln!(
            s,
            "#   after {o}: {} of {}, share {:.4} [{:.4}, {:.4}]",
            x.n, x.of, x.p, x.lo, x.hi
        );
    }
    let _ = writeln!(s, "# (an outcome is listed in `after` if its share's upper bound reaches half the largest share)");
    if sh.n == 0 || r.after.is_empty() {
        let _ = writeln!(s, "# No redial observed; none modelled.");
        return;
    }
    let _ = writeln!(s, "[sources.callers.redial]");
    let _ = writeln!(s, "probability = {:.6}", sh.p);
    let _ = writeln!(s, "max_attempts = {}", r.max_attempts.clamp(2, 100));
    let after: Vec<String> = r.after.iter().map(|a| format!("\"{a}\"")).collect();
    let _ = writeln!(s, "after = [{}]", after.join(", "));
    if let Some(d) = &r.delay {
        dist_comment(s, "redial delay (end of the call to the redial)", d);
        let v = dist_value(s, d);
        let _ = writeln!(s, "delay = {v}");
    }
}

/// The scenario text. `trace`: the trace file as the scenario should name it.
/// `talk_file`: the empirical talk-time file as the scenario should name it (used only if
/// `f.talk_empirical` is set).
pub fn scenario(f: &Fit, name: &str, trace: Option<&str>, talk_file: Option<&str>) -> String {
    let mut s = String::new();
    header(&mut s, f);
    let bins = &f.profile.bins;
    let start = bins.first().map_or(0.0, |b| b.start_s);
    let end = bins
        .last()
        .map_or(60.0, |b| b.start_s + b.width_s)
        .max(start + 60.0);
    let _ = writeln!(s, "name = \"{}\"", name.replace(['"', '\\'], "_"));
    let _ = writeln!(s, "start = \"{}\"\nend = \"{}\"", clock(start), clock(end));
    let _ = writeln!(s, "seed = 1\nreplications = 20");
    let _ = writeln!(s, "\n[carriers.fitted]\nalgorithm = \"none\"");
    let _ = writeln!(s, "\n[sources.callers]\ncarrier = \"fitted\"");
    profile(&mut s, f, trace);
    behaviour(&mut s, f, talk_file);
    flow(&mut s, f);
    redial(&mut s, f);
    s
}

/// The empirical talk-time file: a header, then one value (seconds) per row.
pub fn empirical_csv(v: &[f64]) -> String {
    let mut s = String::from("talk_s\n");
    for x in v {
        let _ = writeln!(s, "{x:.6}");
    }
    s
}

/// What `callsim fit` prints: the main estimates in a few lines.
pub fn summary_text(f: &Fit, out: &std::path::Path) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: {} rows, {} calls ({} first attempts)",
        f.info.source, f.info.rows, f.calls, f.first_attempts
    );
    let p = &f.profile;
    let _ = writeln!(
        s,
        "arrivals: {} bins of {}, peak {:.3}/s",
        p.bins.len(),
        duration(p.interval_s),
        p.bins.iter().map(|b| b.rate).fold(0.0, f64::max)
    );
    let legs: Vec<String> = f
        .legs
        .iter()
        .map(|l| format!("{}: {:.3}", l.k, l.p))
        .collect();
    let _ = writeln!(
        s,
        "legs per call: {}  mode {}",
        legs.join(", "),
        if f.sequential {
            "sequential"
        } else {
            "simulcall"
        }
    );
    for g in &f.groups {
        let _ = writeln!(
            s,
            "answer probability (leg {}{}): {:.4} [{:.4}, {:.4}]",
            g.from_leg,
            if g.last { "+" } else { "" },
            g.p,
            g.lo,
            g.hi
        );
    }
    if let Some(d) = &f.talk {
        let _ = writeln!(
            s,
            "talk time: {} ({}), KS {:.4}",
            d.fits[0].family.name(),
            fmt_params(&d.fits[0]),
            d.fits[0].ks
        );
    }
    if let Some(pf) = &f.patience {
        let _ = writeln!(s, "patience: {} ({}); KM median {}; naive mean of abandoned waits {:.2} s vs censored-MLE mean {:.2} s", pf.fits[0].family.name(), fmt_params(&pf.fits[0]), if pf.km_median.0.is_nan() { "not reached".to_string() } else { format!("{:.2} s", pf.km_median.0) }, pf.naive_mean.0, pf.fits[0].mean());
    }
    let _ = writeln!(
        s,
        "abandoned share: {:.4} [{:.4}, {:.4}]",
        f.abandon.p, f.abandon.lo, f.abandon.hi
    );
    let _ = writeln!(
        s,
        "grouping: at most {} calls open at once",
        f.info.peak_open
    );
    let _ = writeln!(s, "wrote {}", out.display());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_clocks_read_back() {
        assert_eq!(duration(30.0), "30s");
        assert_eq!(duration(1.25), "1.25s");
        assert_eq!(duration(0.0), "0.000001s");
        for s in [0.0, 1.25, 123.456789] {
            let d = crate::time::parse_duration(&duration(s)).unwrap();
            assert!((d.as_secs_f64() - s).abs() <= 1e-6 || s == 0.0);
        }
        assert_eq!(clock(30.0 * 3600.0 + 61.0), "30:01:01");
    }
}
