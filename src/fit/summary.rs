//! From accumulators to estimates with 95% confidence intervals.

use super::estimate::{Acc, Outcome, PosAcc, MAX_LEGS};
use super::hist::{poisson_ci, wilson, KaplanMeier, LogHist, Z95};
use super::mle::{fit_all, ParamFit};
use super::read::Format;
use super::{FitError, FitOptions, Issues};

pub struct ReadInfo {
    pub source: String,
    pub format: Format,
    pub rows: u64,
    pub good_rows: u64,
    pub peak_open: usize,
    pub issues: Issues,
    /// Timestamps had fractions of a second (else the life-table correction applies to ties).
    pub subsecond: bool,
}

/// One bin of the arrival profile (clock seconds since midnight of the first day).
#[derive(Clone, Debug)]
pub struct Bin {
    pub start_s: f64,
    pub width_s: f64,
    pub count: u64,
    pub rate: f64,
    pub lo: f64,
    pub hi: f64,
}

#[derive(Clone, Debug)]
pub struct Profile {
    pub interval_s: f64,
    pub reason: String,
    pub bins: Vec<Bin>,
    /// Days folded onto one clock day (1: none).
    pub days: u32,
}

/// A share with its Wilson interval.
#[derive(Clone, Copy, Debug)]
pub struct Share {
    pub k: usize,
    pub n: u64,
    pub of: u64,
    pub p: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Share {
    pub fn new(k: usize, n: u64, of: u64) -> Share {
        let (lo, hi) = wilson(n, of);
        Share {
            k,
            n,
            of,
            p: n as f64 / of.max(1) as f64,
            lo,
            hi,
        }
    }
    pub fn covers(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// Answer behaviour of the legs at positions `from..` (the last group takes every later leg).
#[derive(Clone, Debug)]
pub struct DestGroup {
    pub from_leg: usize,
    pub last: bool,
    pub legs: u64,
    pub answered: u64,
    pub failed: u64,
    /// Kaplan-Meier probability that a leg answers before the ring timeout, with its interval.
    pub p: f64,
    pub lo: f64,
    pub hi: f64,
    /// Time to answer: the best family with a "never answers" fraction, by censored MLE.
    pub tta: Option<ParamFit>,
}

/// A duration distribution: its sample size and every family's fit, best AIC first.
#[derive(Clone, Debug)]
pub struct Dist {
    pub n: u64,
    pub fits: Vec<ParamFit>,
    pub median: f64,
    pub mean: f64,
    pub p10: f64,
    pub p90: f64,
    /// The mean's 95% interval (normal approximation).
    pub mean_lo: f64,
    pub mean_hi: f64,
}

impl Dist {
    /// The values barely vary (10th to 90th percentile within 1%, or all under 1 ms).
    pub fn degenerate(&self) -> bool {
        self.p90 <= self.p10 * 1.01 + 1e-3
    }
}

#[derive(Clone, Debug)]
pub struct PatienceFit {
    pub abandoned: u64,
    pub censored: u64,
    pub fits: Vec<ParamFit>,
    pub km_median: (f64, f64, f64),
    pub naive_mean: (f64, f64, f64),
}

#[derive(Clone, Debug)]
pub struct RedialFit {
    pub share: Share,
    /// Redialled share after each unsuccessful outcome (attempts below the maximum seen).
    pub per_outcome: Vec<(&'static str, Share)>,
    pub max_attempts: u32,
    pub after: Vec<&'static str>,
    pub delay: Option<Dist>,
}

pub struct Fit {
    pub info: ReadInfo,
    pub calls: u64,
    pub first_attempts: u64,
    pub outcomes: [u64; 4],
    pub abandon: Share,
    pub profile: Profile,
    pub legs: Vec<Share>,
    pub calls_without_legs: u64,
    pub flow: [u64; 3],
    pub sequential: bool,
    pub groups: Vec<DestGroup>,
    /// Mode of rang-out legs' ringing time, their number, share within the tolerance.
    pub ring_timeout: Option<(f64, u64, f64)>,
    /// `--ring-timeout`: the scenario's ring timeout when given (it overrides the estimate).
    pub ring_timeout_given: Option<f64>,
    pub talk: Option<Dist>,
    /// 1,000 quantiles of the talk times, when no family fits (best KS above `EMPIRICAL_KS`).
    pub talk_empirical: Option<Vec<f64>>,
    pub setup: Option<Dist>,
    pub patience: Option<PatienceFit>,
    pub redial: Option<RedialFit>,
    /// Mean wait of answered calls (arrival to answer), with its 95% interval.
    pub answer_wait: (f64, f64, f64),
    pub trace: Option<(u64, u64, f64)>,
    pub day0: f64,
}

fn dist(h: &LogHist, min_n: u64) -> Option<Dist> {
    if h.n < min_n {
        return None;
    }
    let (mean, mean_lo, mean_hi) = mean_ci(h);
    Some(Dist {
        n: h.n,
        fits: fit_all(h, &LogHist::default(), false),
        median: h.quantile(0.5),
        mean,
        p10: h.quantile(0.1),
        p90: h.quantile(0.9),
        mean_lo,
        mean_hi,
    })
}

fn merged(ps: &[PosAcc]) -> PosAcc {
    let mut m = PosAcc::default();
    for p in ps {
        m.ev.merge(&p.ev);
        m.cens.merge(&p.cens);
        m.tied.merge(&p.tied);
        m.failed += p.failed;
    }
    m
}

/// Destination groups by leg position: positions with at least 50 legs each get their own group;
/// the last group pools every later position (a scenario reuses its last destination).
fn groups(pos: &[PosAcc], coarse: bool) -> Vec<DestGroup> {
    let n = |p: &PosAcc| p.ev.n + p.cens.n + p.tied.n;
    let m = (0..pos.len())
        .take_while(|&i| n(&pos[i]) >= 50)
        .count()
        .max(1);
    (0..m)
        .map(|i| {
            let last = i + 1 == m;
            let p = if last {
                merged(&pos[i..])
            } else {
                merged(&pos[i..=i])
            };
            let km = KaplanMeier::grouped(&p.ev, &p.tied, &p.cens, coarse);
            let (s, se) = km.last();
            let mut all_cens = p.cens.clone();
            all_cens.merge(&p.tied);
            let tta = (p.ev.n >= 20).then(|| fit_all(&p.ev, &all_cens, true).remove(0));
            DestGroup {
                from_leg: i,
                last,
                legs: n(&p),
                answered: p.ev.n,
                failed: p.failed,
                p: 1.0 - s,
                lo: (1.0 - s - Z95 * se).max(0.0),
                hi: (1.0 - s + Z95 * se).min(1.0),
                tta,
            }
        })
        .collect()
}

const INTERVALS_S: [f64; 8] = [60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0];

/// The latest clock time (minutes after midnight of the first day) an unfolded profile may
/// reach: a scenario's clock runs to 47:59, and the profile's last bin must end inside it.
const UNFOLDED_END_MIN: i64 = 47 * 60;

fn profile(a: &Acc, o: &FitOptions) -> Result<Profile, FitError> {
    let day0_min = (a.day0 / 60.0).round() as i64;
    let first = *a.minutes.keys().next().unwrap_or(&day0_min) - day0_min;
    let last = *a.minutes.keys().next_back().unwrap_or(&day0_min) - day0_min;
    let total: u64 = a.minutes.values().sum();
    let target = (Z95 / o.target_rel_ci).powi(2);
    let minutes_of = |fold: bool| {
        let mut m: std::collections::BTreeMap<i64, u64> = Default::default();
        for (k, c) in &a.minutes {
            let t = k - day0_min;
            *m.entry(if fold { t.rem_euclid(1440) } else { t })
                .or_default() += c;
        }
        let lo = *m.keys().next().unwrap_or(&0);
        let hi = *m.keys().next_back().unwrap_or(&0);
        (m, lo, hi)
    };
    let nbins = |w: i64, lo: i64, hi: i64| (hi.div_euclid(w) - lo.div_euclid(w) + 1) as f64;
    let width = |lo: i64, hi: i64| match o.interval {
        // Checked up front (FitOptions::check): whole minutes, 1m to 24h.
        Some(s) => (
            (s / 60.0).round() as i64,
            "given with --interval".to_string(),
        ),
        None => {
            let w = INTERVALS_S
                .iter()
                .map(|s| (*s / 60.0) as i64)
                .find(|&w| total as f64 / nbins(w, lo, hi) >= target)
                .unwrap_or(240);
            (w, format!(
                "the shortest of 1m, 5m, 10m, 15m, 30m, 1h, 2h, 4h with at least {target:.0} first attempts per bin on average ({total} over {:.0} bins), so a bin's 95% CI is about ±{:.0}% of its rate",
                nbins(w, lo, hi), 100.0 * o.target_rel_ci
            ))
        }
    };
    // Records whose profile would end after 47:00 of the first day are folded onto one clock
    // day: a folded profile's bins (at most a day wide) end by 47:59, inside a scenario's clock.
    let (mut per_min, mut lo_m, mut hi_m) = minutes_of(false);
    let (mut w, mut reason) = width(lo_m, hi_m);
    let fold = (hi_m.div_euclid(w) + 1) * w > UNFOLDED_END_MIN;
    if fold {
        (per_min, lo_m, hi_m) = minutes_of(true);
        (w, reason) = width(lo_m, hi_m);
    }
    let days = if fold {
        (last / 1440 - first / 1440 + 1) as u32
    } else {
        1
    };
    let scale = (w * 60) as f64 * days as f64;
    let bins = (lo_m.div_euclid(w)..=hi_m.div_euclid(w))
        .map(|b| {
            let count: u64 = per_min.range(b * w..(b + 1) * w).map(|x| x.1).sum();
            let (l, h) = poisson_ci(count);
            Bin {
                start_s: (b * w * 60) as f64,
                width_s: (w * 60) as f64,
                count,
                rate: count as f64 / scale,
                lo: l / scale,
                hi: h / scale,
            }
        })
        .collect();
    Ok(Profile {
        interval_s: (w * 60) as f64,
        reason,
        bins,
        days,
    })
}

/// Mean of a histogram's values with a 95% normal interval.
pub fn mean_ci(h: &LogHist) -> (f64, f64, f64) {
    let m = h.mean();
    let var = h
        .points()
        .map(|(x, c)| c as f64 * (x - m).powi(2))
        .sum::<f64>()
        / (h.n as f64 - 1.0);
    let hw = Z95 * (var / h.n as f64).sqrt();
    (m, m - hw, m + hw)
}

fn patience(a: &Acc, coarse: bool) -> Option<PatienceFit> {
    if a.pat_ev.n < 10 {
        return None;
    }
    let km = KaplanMeier::grouped(&a.pat_ev, &LogHist::default(), &a.pat_cens, coarse);
    Some(PatienceFit {
        abandoned: a.pat_ev.n,
        censored: a.pat_cens.n,
        fits: fit_all(&a.pat_ev, &a.pat_cens, false),
        km_median: km.median(),
        naive_mean: mean_ci(&a.pat_ev),
    })
}

fn redial(a: &Acc) -> Option<RedialFit> {
    let r = &a.redial;
    if r.callers_seen == 0 {
        return None;
    }
    let max_a = r.max_attempt.max(1) as usize;
    let sum = |t: &[[u64; 12]; 4], os: &[Outcome]| -> u64 {
        os.iter()
            .map(|o| t[*o as usize][..max_a.min(12)].iter().sum::<u64>())
            .sum()
    };
    let cand = [Outcome::Abandoned, Outcome::Failed, Outcome::NoAnswer];
    let per: Vec<(Outcome, Share)> = cand
        .iter()
        .map(|&o| {
            (
                o,
                Share::new(o as usize, sum(&r.redialled, &[o]), sum(&r.unsucc, &[o])),
            )
        })
        .collect();
    // An outcome leads to redials if its share could be at least half the largest one's (its
    // upper bound reaches it): a few redials after misread outcomes do not add it.
    let best = per.iter().map(|x| x.1.p).fold(0.0, f64::max);
    let after: Vec<Outcome> = per
        .iter()
        .filter(|x| x.1.n > 0 && x.1.hi >= 0.5 * best)
        .map(|x| x.0)
        .collect();
    Some(RedialFit {
        per_outcome: per.iter().map(|x| (x.0.name(), x.1)).collect(),
        share: Share::new(0, sum(&r.redialled, &after), sum(&r.unsucc, &after)),
        max_attempts: r.max_attempt.max(1),
        after: after
            .iter()
            .map(|o| {
                if *o == Outcome::Abandoned {
                    "abandoned"
                } else {
                    o.name()
                }
            })
            .collect(),
        delay: dist(&r.delay, 10),
    })
}

/// A fitted family whose KS distance exceeds this is replaced by the empirical distribution.
pub const EMPIRICAL_KS: f64 = 0.05;

fn talk_empirical(h: &LogHist) -> Option<Vec<f64>> {
    let d = dist(h, 100)?;
    (d.fits[0].ks > EMPIRICAL_KS && !d.degenerate()).then(|| {
        (0..1000)
            .map(|i| h.quantile((i as f64 + 0.5) / 1000.0))
            .collect()
    })
}

/// First attempts closer together than this in all cannot give an arrival rate.
pub const MIN_ARRIVAL_SPAN_S: f64 = 1.0;

pub fn summarize(a: Acc, info: ReadInfo, o: &FitOptions) -> Result<Fit, FitError> {
    let (t0, t1) = a.arrival_range;
    if t1 - t0 < MIN_ARRIVAL_SPAN_S {
        let at = if t0.is_finite() {
            format!(" (at {})", super::ts::format_plain(t0))
        } else {
            String::new()
        };
        return Err(FitError::input(format!(
            "`{}`: all {} first attempts start within one second{at}: an arrival rate needs calls spread over time, and every duration measured from a shared instant is suspect; expected each row's own start time (if the start column holds something else, such as the export time, map the right one with --columns start=COLUMN)",
            info.source, a.first_attempts
        )));
    }
    let with_legs: u64 = a.legs_k[1..].iter().sum();
    let legs = (1..=MAX_LEGS)
        .filter(|&k| a.legs_k[k] > 0)
        .map(|k| Share::new(k, a.legs_k[k], with_legs))
        .collect();
    let ring_timeout = (a.rangout.n > 0).then(|| {
        let (i, _) = a
            .rangout
            .counts
            .iter()
            .enumerate()
            .max_by_key(|x| (*x.1, std::cmp::Reverse(x.0)))
            .unwrap_or((0, &0));
        let t = LogHist::value(i);
        let tol = super::estimate::ring_tolerance(t);
        let near: u64 = a
            .rangout
            .points()
            .filter(|(x, _)| (x - t).abs() <= tol)
            .map(|x| x.1)
            .sum();
        (t, a.rangout.n, near as f64 / a.rangout.n as f64)
    });
    let trace = a
        .trace
        .as_ref()
        .map(|t| (t.written, t.dropped, t.max_clock));
    Ok(Fit {
        calls: a.calls,
        first_attempts: a.first_attempts,
        outcomes: a.outcomes,
        abandon: Share::new(0, a.outcomes[Outcome::Abandoned as usize], a.calls),
        profile: profile(&a, o)?,
        legs,
        calls_without_legs: a.legs_k[0],
        flow: a.flow,
        sequential: a.flow[1] > a.flow[0],
        groups: groups(&a.pos, !info.subsecond),
        ring_timeout,
        ring_timeout_given: o.ring_timeout,
        talk: dist(&a.talk, 10),
        talk_empirical: talk_empirical(&a.talk),
        setup: dist(&a.setup, 10),
        patience: patience(&a, !info.subsecond),
        redial: redial(&a),
        answer_wait: mean_ci(&a.answer_wait),
        trace,
        day0: a.day0,
        info,
    })
}
