//! Random quantities of the model: duration distributions (patience, talk time, time to answer,
//! service times), integer distributions (simulcall fan-out), and the non-homogeneous Poisson
//! arrival process over a piecewise-linear rate profile, sampled exactly by inversion.
//!
//! Pure: draws take an RNG; no I/O. Parameters are validated by the scenario layer.

use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime, NS_PER_S};
use rand::Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};
use std::sync::Arc;

/// A distribution of non-negative durations. Parameters in seconds.
#[derive(Clone, Debug, PartialEq)]
pub enum DurationDist {
    Fixed(SimDuration),
    Exponential {
        mean_s: f64,
    },
    /// ln X ~ Normal(mu, sigma).
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Weibull {
        shape: f64,
        scale_s: f64,
    },
    Uniform {
        min_s: f64,
        max_s: f64,
    },
    /// Inverse of the empirical CDF with linear interpolation between sorted observations.
    Empirical {
        sorted_s: Arc<Vec<f64>>,
    },
    /// With probability weight_i, a draw from component i (weights sum to 1).
    Mixture(Vec<(f64, DurationDist)>),
}

impl DurationDist {
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        // A fixed duration is returned as it is: exact, and no float round trip.
        if let DurationDist::Fixed(d) = self {
            return *d;
        }
        SimDuration::from_secs_f64(self.sample_s(rng))
    }

    /// As `sample`, with the generator made by `rng` only when a draw is needed (a fixed
    /// duration draws nothing): callers whose stream is keyed per purpose skip seeding it.
    #[inline]
    pub fn sample_lazy<R: Rng>(&self, rng: impl FnOnce() -> R) -> SimDuration {
        match self {
            DurationDist::Fixed(d) => *d,
            d => d.sample(&mut rng()),
        }
    }

    fn sample_s<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            // A mixture's component is drawn in the same call (not a second, recursive one),
            // unless it is itself a mixture.
            DurationDist::Mixture(parts) => match pick(parts, rng) {
                None => 0.0,
                Some(d @ DurationDist::Mixture(_)) => d.sample_s(rng),
                Some(d) => d.sample_leaf(rng),
            },
            d => d.sample_leaf(rng),
        }
    }

    /// A draw from anything but a mixture (a mixture goes back to `sample_s`).
    #[inline(always)]
    fn sample_leaf<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            DurationDist::Fixed(d) => d.as_secs_f64(),
            DurationDist::Exponential { mean_s } => exponential_s(*mean_s, rng),
            DurationDist::LogNormal { mu, sigma } => lognormal_s(*mu, *sigma, rng),
            DurationDist::Weibull { shape, scale_s } => {
                let e: f64 = Exp1.sample(rng);
                scale_s * e.powf(1.0 / shape)
            }
            DurationDist::Uniform { min_s, max_s } => min_s + (max_s - min_s) * rng.random::<f64>(),
            DurationDist::Empirical { sorted_s } => {
                let n = sorted_s.len();
                if n == 1 {
                    return sorted_s[0];
                }
                let u: f64 = rng.random::<f64>() * (n - 1) as f64;
                let i = (u.floor() as usize).min(n - 2);
                let f = u - i as f64;
                sorted_s[i] + f * (sorted_s[i + 1] - sorted_s[i])
            }
            DurationDist::Mixture(_) => self.sample_s(rng),
        }
    }

    /// The mean in seconds (used by reports and the Erlang cross-checks).
    pub fn mean_s(&self) -> f64 {
        match self {
            DurationDist::Fixed(d) => d.as_secs_f64(),
            DurationDist::Exponential { mean_s } => *mean_s,
            DurationDist::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            DurationDist::Weibull { shape, scale_s } => scale_s * gamma_fn(1.0 + 1.0 / shape),
            DurationDist::Uniform { min_s, max_s } => (min_s + max_s) / 2.0,
            DurationDist::Empirical { sorted_s } => {
                // Mean of the piecewise-linear inverse CDF: trapezoid over the observations.
                let n = sorted_s.len();
                if n == 1 {
                    return sorted_s[0];
                }
                sorted_s
                    .windows(2)
                    .map(|w| (w[0] + w[1]) / 2.0)
                    .sum::<f64>()
                    / (n - 1) as f64
            }
            DurationDist::Mixture(parts) => parts.iter().map(|(w, d)| w * d.mean_s()).sum(),
        }
    }

    /// E[X^2] in s^2: with the mean, what the Pollaczek-Khinchine formula needs of a service
    /// time (M/G/1). Infinite where the distribution has no second moment.
    pub fn second_moment_s2(&self) -> f64 {
        // A segment [a, b] of probability mass 1 is uniform there: E[X^2] = (a^2 + ab + b^2) / 3.
        let uniform = |a: f64, b: f64| (a * a + a * b + b * b) / 3.0;
        match self {
            DurationDist::Fixed(d) => d.as_secs_f64().powi(2),
            DurationDist::Exponential { mean_s } => 2.0 * mean_s * mean_s,
            DurationDist::LogNormal { mu, sigma } => (2.0 * mu + 2.0 * sigma * sigma).exp(),
            DurationDist::Weibull { shape, scale_s } => {
                scale_s * scale_s * gamma_fn(1.0 + 2.0 / shape)
            }
            DurationDist::Uniform { min_s, max_s } => uniform(*min_s, *max_s),
            DurationDist::Empirical { sorted_s } => {
                // The piecewise-linear inverse CDF gives each gap between neighbours equal mass.
                let n = sorted_s.len();
                if n == 1 {
                    return sorted_s[0] * sorted_s[0];
                }
                sorted_s
                    .windows(2)
                    .map(|w| uniform(w[0], w[1]))
                    .sum::<f64>()
                    / (n - 1) as f64
            }
            DurationDist::Mixture(parts) => {
                parts.iter().map(|(w, d)| w * d.second_moment_s2()).sum()
            }
        }
    }
}

/// An exponential draw in seconds.
#[inline(always)]
fn exponential_s<R: Rng + ?Sized>(mean_s: f64, rng: &mut R) -> f64 {
    let e: f64 = Exp1.sample(rng);
    e * mean_s
}

/// A lognormal draw in seconds (ln X ~ Normal(mu, sigma)).
#[inline(always)]
fn lognormal_s<R: Rng + ?Sized>(mu: f64, sigma: f64, rng: &mut R) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    (mu + sigma * z).exp()
}

/// A mixture's component for one uniform draw: component i with probability weight i (the
/// last one if rounding leaves the draw past every weight); None for an empty mixture.
#[inline]
fn pick<'a, R: Rng + ?Sized>(
    parts: &'a [(f64, DurationDist)],
    rng: &mut R,
) -> Option<&'a DurationDist> {
    let mut u: f64 = rng.random();
    for (w, d) in parts {
        if u < *w {
            return Some(d);
        }
        u -= w;
    }
    parts.last().map(|(_, d)| d)
}

/// ln Γ(x) for x > 0 by the Lanczos approximation (g = 7, n = 9), accurate to ~1e-15: Weibull
/// means here, Student-t quantiles in `stats`.
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let t = x + 7.5;
    let mut a = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Γ(x) for x > 0 (Weibull means use x = 1 + 1/shape > 1).
fn gamma_fn(x: f64) -> f64 {
    ln_gamma(x).exp()
}

/// A distribution over small positive integers (fan-out width).
#[derive(Clone, Debug, PartialEq)]
pub enum CountDist {
    Fixed(u32),
    /// (value, cumulative probability), cumulative ending at 1.
    Weights(Vec<(u32, f64)>),
}

impl CountDist {
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        match self {
            CountDist::Fixed(k) => *k,
            CountDist::Weights(cum) => {
                let u: f64 = rng.random();
                for (k, c) in cum {
                    if u < *c {
                        return *k;
                    }
                }
                cum.last().map(|(k, _)| *k).unwrap_or(1)
            }
        }
    }
    /// As `sample`, with the generator made by `rng` only when a draw is needed.
    #[inline]
    pub fn sample_lazy<R: Rng>(&self, rng: impl FnOnce() -> R) -> u32 {
        match self {
            CountDist::Fixed(k) => *k,
            d => d.sample(&mut rng()),
        }
    }
    pub fn max(&self) -> u32 {
        match self {
            CountDist::Fixed(k) => *k,
            CountDist::Weights(cum) => cum.iter().map(|(k, _)| *k).max().unwrap_or(1),
        }
    }
    pub fn mean(&self) -> f64 {
        match self {
            CountDist::Fixed(k) => *k as f64,
            CountDist::Weights(cum) => {
                let mut prev = 0.0;
                let mut m = 0.0;
                for (k, c) in cum {
                    m += *k as f64 * (c - prev);
                    prev = *c;
                }
                m
            }
        }
    }
}

/// A piecewise-linear arrival-rate profile over clock time, in calls per second. Before the first
/// point the first rate holds, after the last point the last rate holds.
#[derive(Clone, Debug, PartialEq)]
pub struct RateProfile {
    /// (clock time in seconds since midnight, rate per second), strictly increasing in time.
    pub points: Vec<(f64, f64)>,
}

impl RateProfile {
    pub fn constant(rate_per_s: f64) -> RateProfile {
        RateProfile {
            points: vec![(0.0, rate_per_s)],
        }
    }

    /// λ(t) in calls per second at clock second `t`.
    pub fn rate_at(&self, t: f64) -> f64 {
        self.rate_at_from(0, t)
    }

    /// As `rate_at`, scanning the segments from segment `j` (points j and j + 1) on: the same
    /// value whenever every point before j + 1 lies at or before `t`.
    fn rate_at_from(&self, j: usize, t: f64) -> f64 {
        let p = &self.points;
        if t <= p[0].0 {
            return p[0].1;
        }
        for w in p[j.min(p.len() - 1)..].windows(2) {
            let ((t0, r0), (t1, r1)) = (w[0], w[1]);
            if t < t1 {
                return r0 + (r1 - r0) * (t - t0) / (t1 - t0);
            }
        }
        p[p.len() - 1].1
    }

    /// The rate over the segment that `invert_from`'s cursor `next` (the first point after t)
    /// points into, if it is the same all along it: before the first point and after the last
    /// the rate is flat; between points n - 1 and n when both have the same rate. There
    /// `rate_at_from` returns that rate exactly at any instant from t to the segment's end:
    /// r0 + 0 (t1 - t0 > 0, as times strictly increase) inside, and at the end point (t1)
    /// either the next segment's r1 + 0 or, past the last point, the last rate.
    fn flat_rate(&self, next: usize) -> Option<f64> {
        let p = &self.points;
        match next {
            0 => Some(p[0].1),
            n if n >= p.len() => Some(p[p.len() - 1].1),
            n => (p[n - 1].1 == p[n].1).then_some(p[n].1),
        }
    }

    /// Expected arrivals in [a, b] (the integrated rate), in calls.
    pub fn integral(&self, a: f64, b: f64) -> f64 {
        if b <= a {
            return 0.0;
        }
        // Split at breakpoints; each piece is a trapezoid.
        let mut cuts: Vec<f64> = vec![a];
        cuts.extend(self.points.iter().map(|p| p.0).filter(|&t| t > a && t < b));
        cuts.push(b);
        cuts.windows(2)
            .map(|w| (w[1] - w[0]) * (self.rate_at(w[0]) + self.rate_at(w[1])) / 2.0)
            .sum()
    }

    /// The first time t > `from` with ∫_from^t λ = `area`, or None if the rate is zero from
    /// some point on and the area is never reached before `until`. Exact inversion of a
    /// piecewise-linear integrated rate (a quadratic per segment, solved in stable form).
    pub fn invert(&self, from: f64, area: f64, until: f64) -> Option<f64> {
        self.invert_from(&mut 0, from, area, until)
    }

    /// As `invert`, with `next` the index of the first point after the previous call's `from`
    /// (0 at first): callers whose `from` never goes back (an arrival process) pass the same
    /// cursor each time, and the breakpoint search resumes where it stopped, O(1) amortised
    /// instead of a scan of the profile per arrival. The arithmetic is `invert`'s, term for
    /// term, so the result is bit-identical.
    pub fn invert_from(&self, next: &mut usize, from: f64, area: f64, until: f64) -> Option<f64> {
        if self.points.len() == 1 {
            // Constant rate: the common case, solved directly.
            let r = self.points[0].1;
            return if r > 0.0 && from + area / r < until {
                Some(from + area / r)
            } else {
                None
            };
        }
        let mut t = from;
        let mut need = area;
        loop {
            if t >= until {
                return None;
            }
            // Segment end: next breakpoint after t, or `until`. Every point before `next`
            // lies at or before t, so the scans may start there.
            if *next > 0 && self.points.get(*next - 1).is_none_or(|p| p.0 > t) {
                *next = 0; // `from` went back: search from the start
            }
            while self.points.get(*next).is_some_and(|p| p.0 <= t) {
                *next += 1;
            }
            let seg_end = self
                .points
                .get(*next)
                .map_or(f64::INFINITY, |p| p.0)
                .min(until);
            let j = next.saturating_sub(1);
            // The rate at t and at seg_end; on a flat segment both are its rate, which is what
            // `rate_at_from` works out there, bit for bit (see `flat_rate`).
            let (r0, r1) = match self.flat_rate(*next) {
                Some(r) => (r, r),
                None if seg_end.is_finite() => {
                    (self.rate_at_from(j, t), self.rate_at_from(j, seg_end))
                }
                None => (self.rate_at_from(j, t), f64::NAN), // r1 unread below
            };
            let slope = if seg_end.is_finite() && seg_end > t {
                (r1 - r0) / (seg_end - t)
            } else {
                0.0
            };
            let seg_area = if seg_end.is_finite() {
                (seg_end - t) * (r0 + r1) / 2.0
            } else {
                f64::INFINITY
            };
            if need <= seg_area {
                // Solve r0 x + slope x^2 / 2 = need for the smallest x >= 0:
                // x = 2 need / (r0 + sqrt(r0^2 + 2 slope need)), stable for slope -> 0.
                let disc = (r0 * r0 + 2.0 * slope * need).max(0.0);
                let denom = r0 + disc.sqrt();
                if denom <= 0.0 {
                    return None;
                }
                let x = 2.0 * need / denom;
                return Some((t + x).min(seg_end));
            }
            need -= seg_area;
            t = seg_end;
            if !seg_end.is_finite() {
                return None;
            }
        }
    }
}

/// Arrivals of a non-homogeneous Poisson process: unit-rate exponential gaps mapped through the
/// inverse integrated rate (so scaling the rate maps the same unit process: common random
/// numbers across rate variants). Times are rounded to whole nanoseconds.
pub struct NhppArrivals {
    profile: RateProfile,
    scale: f64,
    pos_s: f64,
    end_s: f64,
    rng: SimRng,
    /// `RateProfile::invert_from`'s cursor: the first breakpoint after `pos_s`.
    next_point: usize,
}

impl NhppArrivals {
    pub fn new(
        profile: RateProfile,
        scale: f64,
        start: SimTime,
        end: SimTime,
        rng: SimRng,
    ) -> Self {
        NhppArrivals {
            profile,
            scale,
            pos_s: start.as_secs_f64(),
            end_s: end.as_secs_f64(),
            rng,
            next_point: 0,
        }
    }

    /// Continues from `from` with a new rate scale. Exact: the process is memoryless, so the
    /// arrival drawn before the change can be discarded and the next one drawn afresh.
    pub fn restart(&mut self, scale: f64, from: SimTime) {
        self.scale = scale;
        // `pos_s` holds the arrival being discarded; the process continues from the change.
        self.pos_s = from.as_secs_f64();
        self.next_point = 0;
    }

    /// The next arrival strictly before the end, or None.
    pub fn next_arrival(&mut self) -> Option<SimTime> {
        if self.scale <= 0.0 {
            return None;
        }
        let e: f64 = Exp1.sample(&mut self.rng);
        // x / 1.0 is x exactly: an unscaled source skips a division on its arrival's chain.
        let area = if self.scale == 1.0 { e } else { e / self.scale };
        let t = if let [(_, r)] = self.profile.points[..] {
            // Constant rate, inline: `invert_from`'s first branch, term for term.
            let t = self.pos_s + area / r;
            if !(r > 0.0 && t < self.end_s) {
                return None;
            }
            t
        } else {
            self.profile
                .invert_from(&mut self.next_point, self.pos_s, area, self.end_s)?
        };
        if t >= self.end_s {
            return None;
        }
        self.pos_s = t;
        Some(SimTime(round_to_u64(t * NS_PER_S as f64)))
    }
}

/// `x.round() as u64` (halves away from zero), without the call into libm that `round` is
/// on a baseline x86-64 target: below 2^53 the integer part and the fraction of a non-negative
/// `x` are exact, so adding one when the fraction is at least a half is the same rounding.
/// Elsewhere (negative, huge, NaN) it is `round` itself.
#[inline]
fn round_to_u64(x: f64) -> u64 {
    const EXACT: f64 = (1u64 << 53) as f64;
    if (0.0..EXACT).contains(&x) {
        // Through i64, which x86-64 converts in one instruction each way (u64 takes about ten):
        // below 2^53 both give the same integer.
        let whole = x as i64;
        whole as u64 + u64::from(x - whole as f64 >= 0.5)
    } else {
        x.round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::rng_from;

    #[test]
    fn inversion_is_exact_on_linear_segments() {
        let p = RateProfile {
            points: vec![(0.0, 1.0), (10.0, 3.0)],
        };
        // ∫_0^t (1 + 0.2 s) ds = t + 0.1 t^2; = 20 at t = 10.
        assert!((p.integral(0.0, 10.0) - 20.0).abs() < 1e-12);
        let t = p.invert(0.0, 20.0, 100.0).unwrap();
        assert!((t - 10.0).abs() < 1e-9, "{t}");
        let t = p.invert(0.0, 5.0, 100.0).unwrap();
        assert!((t + 0.1 * t * t - 5.0).abs() < 1e-9);
        // After the last point the rate holds at 3/s.
        let t = p.invert(10.0, 6.0, 100.0).unwrap();
        assert!((t - 12.0).abs() < 1e-9);
        // A zero rate from 0 on never reaches any area.
        assert_eq!(RateProfile::constant(0.0).invert(0.0, 1.0, 100.0), None);
    }

    #[test]
    fn rounding_to_u64_is_round() {
        let edges = [
            0.5,
            1.5,
            2.5,
            0.49999999999999994,
            4503599627370495.5,
            4503599627370496.0,
            9007199254740991.0,
            9007199254740992.0,
            1e300,
            -3.5,
        ];
        let cases =
            crate::time::float_cases(5, &edges, &[&|u| u * 1e14, &|u| (u * 1e6).floor() + 0.5]);
        for x in cases {
            assert_eq!(round_to_u64(x), x.round() as u64, "{x:e}");
        }
    }

    /// A mixture draws its component in the same call: the draws are those of the recursive
    /// form (kept here), for a plain and a nested mixture, from one stream in turn.
    #[test]
    fn mixture_draws_are_those_of_the_recursive_form() {
        fn recursive(d: &DurationDist, rng: &mut crate::rng::SimRng) -> f64 {
            match d {
                DurationDist::Mixture(parts) => pick(parts, rng).map_or(0.0, |d| recursive(d, rng)),
                d => d.sample_leaf(rng),
            }
        }
        let ln = |m: f64| DurationDist::LogNormal {
            mu: m.ln(),
            sigma: 0.5,
        };
        let plain = DurationDist::Mixture(vec![(0.15, ln(0.003)), (0.85, ln(2.4))]);
        let nested = DurationDist::Mixture(vec![
            (0.5, plain.clone()),
            (0.3, DurationDist::Exponential { mean_s: 2.0 }),
            (0.2, DurationDist::Fixed(SimDuration::from_millis(7))),
        ]);
        for d in [&plain, &nested] {
            let (mut a, mut b) = (rng_from(5), rng_from(5));
            for _ in 0..20_000 {
                assert_eq!(d.sample_s(&mut a).to_bits(), recursive(d, &mut b).to_bits());
            }
        }
    }

    #[test]
    fn inversion_with_a_cursor_is_bit_identical() {
        let p = RateProfile {
            points: vec![
                (10.0, 1.0),
                (20.0, 5.0),
                (20.5, 0.0),
                (40.0, 0.0),
                (50.0, 2.0),
            ],
        };
        let mut rng = rng_from(3);
        let (mut next, mut t) = (0, 0.0);
        for i in 0..2_000 {
            let area: f64 = Exp1.sample(&mut rng);
            if i % 97 == 0 {
                t = (t - 7.0f64).max(0.0); // going back resets the cursor
            }
            let plain = p.invert(t, area, 60.0);
            let with_cursor = p.invert_from(&mut next, t, area, 60.0);
            assert_eq!(
                plain.map(f64::to_bits),
                with_cursor.map(f64::to_bits),
                "{t} {area}"
            );
            match plain {
                Some(x) => t = x,
                None => (t, next) = (0.0, 0),
            }
        }
    }

    /// `invert` as it was before flat segments were short-cut: every rate from `rate_at`.
    fn invert_by_rate_at(p: &RateProfile, from: f64, area: f64, until: f64) -> Option<f64> {
        let (mut t, mut need) = (from, area);
        loop {
            if t >= until {
                return None;
            }
            let seg_end = p
                .points
                .iter()
                .map(|q| q.0)
                .find(|&x| x > t)
                .unwrap_or(f64::INFINITY)
                .min(until);
            let r0 = p.rate_at(t);
            let slope = if seg_end.is_finite() && seg_end > t {
                (p.rate_at(seg_end) - r0) / (seg_end - t)
            } else {
                0.0
            };
            let seg_area = if seg_end.is_finite() {
                (seg_end - t) * (r0 + p.rate_at(seg_end)) / 2.0
            } else {
                f64::INFINITY
            };
            if need <= seg_area {
                let denom = r0 + (r0 * r0 + 2.0 * slope * need).max(0.0).sqrt();
                if denom <= 0.0 {
                    return None;
                }
                return Some((t + 2.0 * need / denom).min(seg_end));
            }
            need -= seg_area;
            t = seg_end;
            if !seg_end.is_finite() {
                return None;
            }
        }
    }

    #[test]
    fn flat_segments_invert_bit_identically_to_the_rate_at_arithmetic() {
        // Random profiles whose rates repeat (flat segments, zero stretches, steps), inverted
        // from random instants before, inside and after them.
        let mut rng = rng_from(11);
        for case in 0..300 {
            let n = 2 + case % 6;
            let mut t = rng.random_range(0.0..100.0);
            let mut points = Vec::new();
            for _ in 0..n {
                let r = [0.0, 1.5, 1.5, 7.0, 250.0][rng.random_range(0..5usize)];
                points.push((t, r));
                t += rng.random_range(0.001..50.0);
            }
            if points.iter().all(|p| p.1 == 0.0) {
                points[0].1 = 3.0;
            }
            let p = RateProfile { points };
            let until = t + rng.random_range(0.0..100.0);
            let (mut next, mut from) = (0, rng.random_range(0.0..60.0));
            for _ in 0..50 {
                let area: f64 = Exp1.sample(&mut rng);
                let want = invert_by_rate_at(&p, from, area, until);
                let got = p.invert_from(&mut next, from, area, until);
                assert_eq!(
                    want.map(f64::to_bits),
                    got.map(f64::to_bits),
                    "{:?} from {from} area {area}",
                    p.points
                );
                match got {
                    Some(x) => from = x,
                    None => break,
                }
            }
        }
    }

    #[test]
    fn nhpp_counts_match_the_integrated_rate() {
        // Rate 0 -> 20/s over an hour: expected 36,000 arrivals; sd = 190. Allow 5 sd.
        let p = RateProfile {
            points: vec![(0.0, 0.0), (3600.0, 20.0)],
        };
        let mut a = NhppArrivals::new(
            p.clone(),
            1.0,
            SimTime(0),
            SimTime(3600 * NS_PER_S),
            rng_from(42),
        );
        let mut n = 0u64;
        let mut first_half = 0u64;
        let mut last = SimTime(0);
        while let Some(t) = a.next_arrival() {
            assert!(t >= last);
            last = t;
            n += 1;
            if t.as_secs_f64() < 1800.0 {
                first_half += 1;
            }
        }
        assert!((n as f64 - 36_000.0).abs() < 5.0 * 190.0, "{n}");
        // A quarter of the mass lies in the first half: 9,000 (sd 95).
        assert!(
            (first_half as f64 - 9_000.0).abs() < 5.0 * 95.0,
            "{first_half}"
        );
    }

    /// The mean of `f(x)` over `n` draws (in seconds) from `d` with stream `seed`.
    fn mean_of_draws(d: &DurationDist, seed: u64, n: u32, f: impl Fn(f64) -> f64) -> f64 {
        let mut rng = rng_from(seed);
        (0..n)
            .map(|_| f(d.sample(&mut rng).as_secs_f64()))
            .sum::<f64>()
            / f64::from(n)
    }

    #[test]
    fn duration_means_match_draws() {
        let cases = [
            DurationDist::Exponential { mean_s: 2.0 },
            DurationDist::LogNormal {
                mu: 1.0,
                sigma: 0.5,
            },
            DurationDist::Weibull {
                shape: 1.5,
                scale_s: 3.0,
            },
            DurationDist::Uniform {
                min_s: 1.0,
                max_s: 5.0,
            },
            DurationDist::Empirical {
                sorted_s: Arc::new(vec![1.0, 2.0, 4.0]),
            },
            DurationDist::Mixture(vec![
                (0.9, DurationDist::Fixed(SimDuration::from_millis(10))),
                (0.1, DurationDist::Exponential { mean_s: 5.0 }),
            ]),
        ];
        for d in cases {
            let m = mean_of_draws(&d, 7, 200_000, |x| x);
            assert!(
                (m - d.mean_s()).abs() < 0.02 * d.mean_s().max(0.1),
                "{d:?}: {m} vs {}",
                d.mean_s()
            );
        }
    }

    #[test]
    fn duration_second_moments_match_closed_forms_and_draws() {
        let exp = DurationDist::Exponential { mean_s: 2.0 };
        assert!((exp.second_moment_s2() - 8.0).abs() < 1e-12);
        // Weibull with shape 1 is the exponential of mean `scale`.
        let w1 = DurationDist::Weibull {
            shape: 1.0,
            scale_s: 3.0,
        };
        assert!((w1.second_moment_s2() - 18.0).abs() < 1e-9);
        let u = DurationDist::Uniform {
            min_s: 1.0,
            max_s: 5.0,
        };
        assert!((u.second_moment_s2() - 31.0 / 3.0).abs() < 1e-12);
        let f = DurationDist::Fixed(SimDuration::from_millis(1500));
        assert!((f.second_moment_s2() - 2.25).abs() < 1e-12);
        // Mean 1, sd 1.5: E[X^2] = 1 + 2.25.
        let ln = DurationDist::LogNormal {
            mu: -0.5 * (3.25f64).ln(),
            sigma: (3.25f64).ln().sqrt(),
        };
        assert!((ln.mean_s() - 1.0).abs() < 1e-12);
        assert!((ln.second_moment_s2() - 3.25).abs() < 1e-12);
        let cases = [
            DurationDist::LogNormal {
                mu: 1.0,
                sigma: 0.5,
            },
            DurationDist::Weibull {
                shape: 1.5,
                scale_s: 3.0,
            },
            DurationDist::Empirical {
                sorted_s: Arc::new(vec![1.0, 2.0, 4.0]),
            },
            DurationDist::Mixture(vec![
                (0.9, DurationDist::Fixed(SimDuration::from_millis(10))),
                (0.1, DurationDist::Exponential { mean_s: 5.0 }),
            ]),
        ];
        for d in cases {
            let m2 = mean_of_draws(&d, 9, 400_000, |x| x * x);
            let want = d.second_moment_s2();
            assert!((m2 - want).abs() < 0.03 * want, "{d:?}: {m2} vs {want}");
        }
    }

    #[test]
    fn count_weights_sample_in_proportion() {
        let d = CountDist::Weights(vec![(1, 0.25), (3, 1.0)]);
        let mut rng = rng_from(1);
        let n = 100_000;
        let ones = (0..n).filter(|_| d.sample(&mut rng) == 1).count();
        assert!((ones as f64 / n as f64 - 0.25).abs() < 0.01);
        assert!((d.mean() - 2.5).abs() < 1e-12);
        assert_eq!(d.max(), 3);
    }
}
