//! Bounded accumulators for the estimators: a log-binned histogram of durations (400 bins a
//! decade from 1 ms to 10^6 s, so a value is known to within 0.3% of itself), Kaplan-Meier on
//! a pair of them, and closed-form intervals for counts and proportions. Memory per histogram
//! is fixed (29 KB) whatever the number of records.

/// The 95% normal quantile.
pub const Z95: f64 = 1.959963984540054;
const PER_DECADE: f64 = 400.0;
const LO: f64 = 1e-3;
const DECADES: f64 = 9.0;
/// Bins: [0] below 1 ms, [1..=N] log bins, [N+1] at or above 10^6 s.
const N: usize = (PER_DECADE * DECADES) as usize;

#[derive(Clone, Debug)]
pub struct LogHist {
    pub counts: Vec<u64>,
    pub n: u64,
    pub sum: f64,
}

impl Default for LogHist {
    fn default() -> Self {
        LogHist {
            counts: vec![0; N + 2],
            n: 0,
            sum: 0.0,
        }
    }
}

impl LogHist {
    pub fn bin_of(x: f64) -> usize {
        if x < LO {
            0
        } else {
            let i = ((x / LO).log10() * PER_DECADE).floor() as usize + 1;
            i.min(N + 1)
        }
    }
    /// Upper edge of bin `i` (seconds).
    pub fn upper(i: usize) -> f64 {
        if i > N {
            f64::INFINITY
        } else {
            LO * 10f64.powf(i as f64 / PER_DECADE)
        }
    }
    /// The value a bin stands for: its geometric middle (0 for the bin below 1 ms).
    pub fn value(i: usize) -> f64 {
        match i {
            0 => 0.0,
            _ if i > N => Self::upper(N),
            _ => LO * 10f64.powf((i as f64 - 0.5) / PER_DECADE),
        }
    }
    pub fn add(&mut self, x: f64) {
        let x = x.max(0.0);
        self.counts[Self::bin_of(x)] += 1;
        self.n += 1;
        self.sum += x;
    }
    pub fn merge(&mut self, o: &LogHist) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.n += o.n;
        self.sum += o.sum;
    }
    pub fn mean(&self) -> f64 {
        self.sum / self.n as f64
    }
    /// Non-empty bins as (value, count), in increasing order.
    pub fn points(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (Self::value(i), *c))
    }
    /// The q-quantile (bin value; NaN when empty).
    pub fn quantile(&self, q: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let target = (q * self.n as f64).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (i, c) in self.counts.iter().enumerate() {
            acc += c;
            if acc >= target {
                return Self::value(i);
            }
        }
        Self::value(N + 1)
    }
    /// Largest |F(edge) − ECDF(edge)| over the upper bin edges: the Kolmogorov-Smirnov
    /// distance at the histogram's resolution.
    pub fn ks(&self, cdf: impl Fn(f64) -> f64) -> f64 {
        let mut acc = 0u64;
        let mut d: f64 = 0.0;
        for (i, c) in self.counts.iter().enumerate().take(N + 1) {
            acc += c;
            let e = acc as f64 / self.n as f64;
            d = d.max((cdf(Self::upper(i)) - e).abs());
        }
        d
    }
}

/// Kaplan-Meier survival from events and right-censored times kept in histograms. `tied`
/// censorings are known to come after the events of their bin (a leg cancelled at the instant
/// another leg of its call answered); the `other` censorings of a bin count as at risk for half
/// of it when `half` is set (the life-table correction, for whole-second timestamps, where an
/// event and a censoring read at the same second are equally likely to have come in either
/// order); without `half` they come after the events (the usual convention for ties).
#[derive(Clone, Debug)]
pub struct KaplanMeier {
    /// (upper edge of bin, S after the bin, Greenwood standard error of S).
    pub steps: Vec<(f64, f64, f64)>,
    pub events: u64,
    pub censored: u64,
}

impl KaplanMeier {
    pub fn new(events: &LogHist, censored: &LogHist) -> KaplanMeier {
        Self::grouped(events, &LogHist::default(), censored, false)
    }

    pub fn grouped(
        events: &LogHist,
        tied: &LogHist,
        censored: &LogHist,
        half: bool,
    ) -> KaplanMeier {
        let mut at_risk = (events.n + tied.n + censored.n) as f64;
        let (mut s, mut g) = (1.0f64, 0.0f64);
        let mut steps = Vec::new();
        for i in 0..events.counts.len() {
            let (d, c) = (events.counts[i] as f64, censored.counts[i] as f64);
            let n = if half { at_risk - c / 2.0 } else { at_risk };
            if d > 0.0 && n > 0.0 {
                s *= 1.0 - d / n;
                if n > d {
                    g += d / (n * (n - d));
                }
                steps.push((LogHist::upper(i), s, s * g.sqrt()));
            }
            at_risk -= d + c + tied.counts[i] as f64;
        }
        KaplanMeier {
            steps,
            events: events.n,
            censored: censored.n + tied.n,
        }
    }
    /// S(t) and its standard error.
    pub fn at(&self, t: f64) -> (f64, f64) {
        let mut r = (1.0, 0.0);
        for &(e, s, se) in &self.steps {
            if e > t {
                break;
            }
            r = (s, se);
        }
        r
    }
    /// S after the last event, with its standard error.
    pub fn last(&self) -> (f64, f64) {
        self.steps.last().map(|x| (x.1, x.2)).unwrap_or((1.0, 0.0))
    }
    /// The median and its 95% interval from the pointwise band (NaN where S stays above 0.5).
    pub fn median(&self) -> (f64, f64, f64) {
        let first = |f: &dyn Fn(f64, f64) -> bool| {
            self.steps
                .iter()
                .find(|x| f(x.1, x.2))
                .map(|x| x.0)
                .unwrap_or(f64::NAN)
        };
        (
            first(&|s, _| s <= 0.5),
            first(&|s, se| s - Z95 * se <= 0.5),
            first(&|s, se| s + Z95 * se <= 0.5),
        )
    }
}

/// Wilson score interval for k successes in n trials.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p) = (n as f64, k as f64 / n as f64);
    let z2 = Z95 * Z95;
    let c = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let h = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((c - h).max(0.0), (c + h).min(1.0))
}

/// 95% interval for a Poisson mean from a count (Byar's approximation to the exact interval).
pub fn poisson_ci(n: u64) -> (f64, f64) {
    let n = n as f64;
    let lo = if n == 0.0 {
        0.0
    } else {
        n * (1.0 - 1.0 / (9.0 * n) - Z95 / (3.0 * n.sqrt())).powi(3)
    };
    let m = n + 1.0;
    (
        lo,
        m * (1.0 - 1.0 / (9.0 * m) + Z95 / (3.0 * m.sqrt())).powi(3),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaplan_meier_matches_a_hand_computation() {
        // Events at 1, 2, 4; censored at 3 and 5: S = 4/5 · 3/4 · 1/2 = 0.3.
        let (mut e, mut c) = (LogHist::default(), LogHist::default());
        for x in [1.0, 2.0, 4.0] {
            e.add(x);
        }
        for x in [3.0, 5.0] {
            c.add(x);
        }
        let km = KaplanMeier::new(&e, &c);
        assert!((km.at(1.5).0 - 0.8).abs() < 1e-12);
        assert!((km.at(3.5).0 - 0.6).abs() < 1e-12);
        assert!((km.last().0 - 0.3).abs() < 1e-12);
        assert!((km.median().0 - LogHist::upper(LogHist::bin_of(4.0))).abs() < 1e-12);
    }

    #[test]
    fn life_table_correction_halves_tied_censorings_only() {
        // 10 at risk; at t = 5: 2 events, 4 censorings (2 of them tied to events of their call).
        let (mut e, mut t, mut c) = (LogHist::default(), LogHist::default(), LogHist::default());
        for _ in 0..2 {
            e.add(5.0);
            t.add(5.0);
            c.add(5.0);
        }
        for _ in 0..4 {
            c.add(9.0);
        }
        let s = |half| KaplanMeier::grouped(&e, &t, &c, half).at(6.0).0;
        assert!((s(false) - 0.8).abs() < 1e-12);
        assert!((s(true) - (1.0 - 2.0 / 9.0)).abs() < 1e-12);
    }

    #[test]
    fn intervals_cover_their_point() {
        let (lo, hi) = poisson_ci(100);
        assert!(
            (lo - 81.37).abs() < 0.1 && (hi - 121.6).abs() < 0.2,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(30, 100);
        assert!(
            (lo - 0.2189).abs() < 1e-3 && (hi - 0.3958).abs() < 1e-3,
            "{lo} {hi}"
        );
    }

    #[test]
    fn histogram_quantiles_are_within_a_bin() {
        let mut h = LogHist::default();
        for i in 1..=1000 {
            h.add(i as f64 / 10.0);
        }
        assert!((h.quantile(0.5) / 50.0 - 1.0).abs() < 0.006);
        assert!(h.ks(|x| (x / 100.0).min(1.0)) < 0.01);
    }
}
