//! Maximum likelihood for duration families (exponential, lognormal, Weibull), with right
//! censoring and, for time to answer, a "cure" fraction (a leg that never answers). Data come
//! binned (`LogHist`, 0.6% bins), so each bin's count sits at the bin's middle. The optimiser is
//! Nelder-Mead on unconstrained parameters (logs, logit); standard errors come from a
//! central-difference Hessian of the negative log-likelihood, and intervals are the Wald
//! intervals on that unconstrained scale mapped back (so they stay positive).

use super::hist::{KaplanMeier, LogHist, Z95};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Exponential,
    Lognormal,
    Weibull,
}

impl Family {
    pub const ALL: [Family; 3] = [Family::Exponential, Family::Lognormal, Family::Weibull];
    pub fn name(self) -> &'static str {
        match self {
            Family::Exponential => "exponential",
            Family::Lognormal => "lognormal",
            Family::Weibull => "weibull",
        }
    }
    fn n_params(self) -> usize {
        match self {
            Family::Exponential => 1,
            _ => 2,
        }
    }
}

/// A fitted family.
#[derive(Clone, Debug)]
pub struct ParamFit {
    pub family: Family,
    /// Unconstrained parameters: exponential [ln mean]; lognormal [μ, ln σ]; Weibull
    /// [ln shape, ln scale]; then logit p with a cure fraction.
    pub theta: Vec<f64>,
    pub se: Vec<f64>,
    pub nll: f64,
    pub aic: f64,
    /// Largest distance between the fitted survival and Kaplan-Meier (the KS distance for
    /// uncensored data), at the histogram's resolution.
    pub ks: f64,
    pub cure: bool,
}

/// A natural parameter with its 95% interval.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Param {
    pub fn covers(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// Complementary error function (W. J. Cody's rational approximations are overkill here;
/// this is Numerical Recipes' erfcc, relative error < 1.2e-7 everywhere).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Standard normal CDF.
pub fn phi(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn x_floor(x: f64) -> f64 {
    x.max(5e-4)
}

/// ln f(x) and ln S(x) of `family` at unconstrained parameters `t`.
fn log_f_s(family: Family, t: &[f64], x: f64) -> (f64, f64) {
    let x = x_floor(x);
    match family {
        Family::Exponential => {
            let m = t[0].exp();
            (-t[0] - x / m, -x / m)
        }
        Family::Lognormal => {
            let s = t[1].exp();
            let z = (x.ln() - t[0]) / s;
            let lf = -x.ln() - t[1] - 0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * z * z;
            (lf, phi(-z).max(1e-300).ln())
        }
        Family::Weibull => {
            let (k, lam) = (t[0].exp(), t[1].exp());
            let u = (x / lam).powf(k);
            (t[0] - t[1] + (k - 1.0) * (x.ln() - t[1]) - u, -u)
        }
    }
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Negative log-likelihood of events and right-censored times (optionally with a cure
/// fraction p = logistic(last parameter): a subject never has the event with probability 1 − p).
fn nll(family: Family, t: &[f64], events: &LogHist, cens: &LogHist, cure: bool) -> f64 {
    let p = if cure {
        logistic(t[family.n_params()])
    } else {
        1.0
    };
    let mut s = 0.0;
    for (x, n) in events.points() {
        s -= n as f64 * (log_f_s(family, t, x).0 + p.ln());
    }
    for (x, n) in cens.points() {
        let ls = log_f_s(family, t, x).1;
        let v = if cure {
            (1.0 - p + p * ls.exp()).max(1e-300).ln()
        } else {
            ls
        };
        s -= n as f64 * v;
    }
    if s.is_finite() {
        s
    } else {
        f64::INFINITY
    }
}

/// Nelder-Mead minimisation from `x0` with initial steps `step`.
pub fn nelder_mead(f: &dyn Fn(&[f64]) -> f64, x0: &[f64], step: f64, iters: usize) -> Vec<f64> {
    let n = x0.len();
    let mut pts: Vec<Vec<f64>> = vec![x0.to_vec()];
    for i in 0..n {
        let mut p = x0.to_vec();
        p[i] += step;
        pts.push(p);
    }
    let mut vals: Vec<f64> = pts.iter().map(|p| f(p)).collect();
    for _ in 0..iters {
        let mut idx: Vec<usize> = (0..=n).collect();
        idx.sort_by(|&a, &b| vals[a].total_cmp(&vals[b]));
        pts = idx.iter().map(|&i| pts[i].clone()).collect();
        vals = idx.iter().map(|&i| vals[i]).collect();
        if (vals[n] - vals[0]).abs() <= 1e-10 * (1.0 + vals[0].abs()) {
            break;
        }
        let c: Vec<f64> = (0..n)
            .map(|j| pts[..n].iter().map(|p| p[j]).sum::<f64>() / n as f64)
            .collect();
        let along =
            |a: f64| -> Vec<f64> { (0..n).map(|j| c[j] + a * (pts[n][j] - c[j])).collect() };
        let r = along(-1.0);
        let fr = f(&r);
        if fr < vals[0] {
            let e = along(-2.0);
            let fe = f(&e);
            (pts[n], vals[n]) = if fe < fr { (e, fe) } else { (r, fr) };
        } else if fr < vals[n - 1] {
            (pts[n], vals[n]) = (r, fr);
        } else {
            let k = if fr < vals[n] {
                along(-0.5)
            } else {
                along(0.5)
            };
            let fk = f(&k);
            if fk < vals[n].min(fr) {
                (pts[n], vals[n]) = (k, fk);
            } else {
                for i in 1..=n {
                    pts[i] = (0..n)
                        .map(|j| pts[0][j] + 0.5 * (pts[i][j] - pts[0][j]))
                        .collect();
                    vals[i] = f(&pts[i]);
                }
            }
        }
    }
    let best = (0..=n)
        .min_by(|&a, &b| vals[a].total_cmp(&vals[b]))
        .unwrap_or(0);
    pts[best].clone()
}

/// Standard errors from the inverse of a central-difference Hessian (NaN if not positive definite).
fn std_errors(f: &dyn Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let h: Vec<f64> = x.iter().map(|v| 1e-4 * v.abs().max(1.0)).collect();
    let at = |d: &[(usize, f64)]| {
        let mut y = x.to_vec();
        for &(i, s) in d {
            y[i] += s * h[i];
        }
        f(&y)
    };
    let mut m = vec![vec![0.0; 2 * n]; n];
    for i in 0..n {
        for j in 0..n {
            m[i][j] = if i == j {
                (at(&[(i, 1.0)]) - 2.0 * f(x) + at(&[(i, -1.0)])) / (h[i] * h[i])
            } else {
                (at(&[(i, 1.0), (j, 1.0)])
                    - at(&[(i, 1.0), (j, -1.0)])
                    - at(&[(i, -1.0), (j, 1.0)])
                    + at(&[(i, -1.0), (j, -1.0)]))
                    / (4.0 * h[i] * h[j])
            };
        }
        m[i][n + i] = 1.0;
    }
    // Gauss-Jordan with partial pivoting on [H | I].
    for c in 0..n {
        let p = (c..n)
            .max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs()))
            .unwrap_or(c);
        m.swap(c, p);
        let d = m[c][c];
        if d.abs() < 1e-300 {
            return vec![f64::NAN; n];
        }
        for v in m[c].iter_mut() {
            *v /= d;
        }
        for r in 0..n {
            if r != c {
                let k = m[r][c];
                let row_c = m[c].clone();
                for (v, w) in m[r].iter_mut().zip(row_c) {
                    *v -= k * w;
                }
            }
        }
    }
    (0..n)
        .map(|i| {
            if m[i][n + i] > 0.0 {
                m[i][n + i].sqrt()
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// Starting values from the log moments of the events (and the censored times, as a rough guide).
fn start(family: Family, events: &LogHist, cens: &LogHist) -> Vec<f64> {
    let (mut n, mut s1, mut s2) = (0.0, 0.0, 0.0);
    for (x, c) in events.points().chain(cens.points()) {
        let l = x_floor(x).ln();
        (n, s1, s2) = (n + c as f64, s1 + c as f64 * l, s2 + c as f64 * l * l);
    }
    let mu = s1 / n.max(1.0);
    let sd = (s2 / n.max(1.0) - mu * mu).max(1e-4).sqrt();
    match family {
        Family::Exponential => vec![mu + 0.5 * sd * sd],
        Family::Lognormal => vec![mu, sd.ln()],
        Family::Weibull => {
            let k = (1.2 / sd).clamp(0.05, 20.0);
            vec![k.ln(), mu + 0.5772 / k]
        }
    }
}

/// Fits one family by maximum likelihood.
pub fn fit(family: Family, events: &LogHist, cens: &LogHist, cure: bool) -> ParamFit {
    let f = |t: &[f64]| nll(family, t, events, cens, cure);
    let mut x0 = start(family, events, cens);
    if cure {
        let share = events.n as f64 / (events.n + cens.n).max(1) as f64;
        x0.push(((share + 0.01).min(0.99) / (1.0 - (share + 0.01).min(0.99))).ln());
    }
    let mut x = nelder_mead(&f, &x0, 0.3, 4000);
    x = nelder_mead(&f, &x, 0.05, 4000);
    let se = std_errors(&f, &x);
    let v = f(&x);
    let mut pf = ParamFit {
        family,
        aic: 2.0 * v + 2.0 * x.len() as f64,
        theta: x,
        se,
        nll: v,
        ks: f64::NAN,
        cure,
    };
    let km = KaplanMeier::new(events, cens);
    pf.ks = km
        .steps
        .iter()
        .map(|&(t, s, _)| (s - pf.survival(t)).abs())
        .fold(0.0, f64::max);
    pf
}

/// Every family, best (lowest AIC) first.
pub fn fit_all(events: &LogHist, cens: &LogHist, cure: bool) -> Vec<ParamFit> {
    let mut v: Vec<ParamFit> = Family::ALL
        .iter()
        .map(|&f| fit(f, events, cens, cure))
        .collect();
    v.sort_by(|a, b| a.aic.total_cmp(&b.aic));
    v
}

impl ParamFit {
    /// CDF of the duration (without the cure fraction).
    pub fn cdf(&self, x: f64) -> f64 {
        1.0 - log_f_s(self.family, &self.theta, x).1.exp()
    }
    /// Survival including the cure fraction: P(no event by x).
    pub fn survival(&self, x: f64) -> f64 {
        self.cure_p()
            .map_or(1.0 - self.cdf(x), |p| 1.0 - p * self.cdf(x))
    }
    pub fn cure_p(&self) -> Option<f64> {
        self.cure
            .then(|| logistic(self.theta[self.family.n_params()]))
    }
    fn wald(&self, i: usize, name: &'static str, map: fn(f64) -> f64) -> Param {
        let (t, s) = (self.theta[i], self.se[i]);
        Param {
            name,
            value: map(t),
            lo: map(t - Z95 * s),
            hi: map(t + Z95 * s),
        }
    }
    /// Natural parameters with 95% intervals (seconds for scales).
    pub fn params(&self) -> Vec<Param> {
        let mut v = match self.family {
            Family::Exponential => vec![self.wald(0, "mean_s", f64::exp)],
            Family::Lognormal => vec![
                self.wald(0, "median_s", f64::exp),
                self.wald(1, "sigma", f64::exp),
            ],
            Family::Weibull => vec![
                self.wald(0, "shape", f64::exp),
                self.wald(1, "scale_s", f64::exp),
            ],
        };
        if self.cure {
            v.push(self.wald(self.family.n_params(), "p", logistic));
        }
        v
    }
    pub fn mean(&self) -> f64 {
        let t = &self.theta;
        match self.family {
            Family::Exponential => t[0].exp(),
            Family::Lognormal => (t[0] + 0.5 * (2.0 * t[1]).exp()).exp(),
            Family::Weibull => t[1].exp() * crate::dist::ln_gamma(1.0 + 1.0 / t[0].exp()).exp(),
        }
    }
    /// The median, when the fitted distribution barely varies (10th to 90th percentile within
    /// 1%, as `Dist::degenerate` for data): a likelihood maximised by a point mass drives a
    /// Weibull shape or 1/σ towards infinity, and the scenario gets the fixed value instead.
    pub fn point_mass(&self) -> Option<f64> {
        let t = &self.theta;
        // ln(q90 / q10): 2 × 1.2816 σ for a lognormal, ln(ln 10 / ln(10/9)) / shape for a Weibull.
        let (spread, median) = match self.family {
            Family::Exponential => return None,
            Family::Lognormal => (2.0 * 1.281_551_6 * t[1].exp(), t[0].exp()),
            Family::Weibull => (
                3.083_999 / t[0].exp(),
                t[1].exp() * std::f64::consts::LN_2.powf(1.0 / t[0].exp()),
            ),
        };
        (spread < 1.01f64.ln()).then_some(median)
    }
    /// The scenario's distribution for this fit: a table, or a fixed duration for a point mass.
    pub fn toml(&self) -> String {
        if let Some(m) = self.point_mass() {
            return format!("\"{}\"", super::out::duration(m));
        }
        let p = self.params();
        let d = |s: f64| super::out::duration(s);
        match self.family {
            Family::Exponential => {
                format!("{{ dist = \"exponential\", mean = \"{}\" }}", d(p[0].value))
            }
            Family::Lognormal => format!(
                "{{ dist = \"lognormal\", median = \"{}\", sigma = {} }}",
                d(p[0].value),
                toml_float(round6(p[1].value))
            ),
            Family::Weibull => format!(
                "{{ dist = \"weibull\", shape = {}, scale = \"{}\" }}",
                toml_float(round6(p[0].value)),
                d(p[1].value)
            ),
        }
    }
}

/// A float as TOML reads it back as a float: `{:?}` always has a `.` or an exponent
/// (`1.5`, `2.0`, `1.79598e308`), where `{}` writes a large whole number as an integer literal
/// (`179598000000…`) that TOML refuses as too large.
pub fn toml_float(x: f64) -> String {
    format!("{x:?}")
}

/// Six significant digits, never zero (the scenario reader wants a number > 0).
fn round6(x: f64) -> f64 {
    let m = 10f64.powi(5 - x.abs().log10().floor() as i32);
    ((x * m).round() / m).max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, LogNormal, Weibull};

    /// Identical values: the Weibull and lognormal fits run towards a point mass; the scenario
    /// gets a fixed value, and a float is written so that TOML reads it back.
    #[test]
    fn a_point_mass_is_written_as_a_fixed_value() {
        let mut h = LogHist::default();
        for _ in 0..500 {
            h.add(1.0);
        }
        for f in fit_all(&h, &LogHist::default(), false) {
            let v = f.toml();
            if f.family == Family::Exponential {
                assert!(v.starts_with("{ dist = \"exponential\""), "{v}");
            } else {
                assert!(f.point_mass().is_some(), "{:?}: {v}", f.family);
                let d = crate::time::parse_duration(v.trim_matches('"')).unwrap();
                assert!((d.as_secs_f64() - 1.0).abs() < 0.01, "{:?}: {v}", f.family);
            }
        }
        for x in [1.5, 2.0, 1.79598e308, 1e-9, 179598000000000000000000.0] {
            let t: toml::Value = toml::from_str(&format!("x = {}", toml_float(x))).unwrap();
            assert_eq!(t["x"].as_float(), Some(x));
        }
    }

    #[test]
    fn recovers_a_lognormal_and_prefers_it_by_aic() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let d = LogNormal::new(60f64.ln(), 0.7).unwrap();
        let mut h = LogHist::default();
        for _ in 0..5000 {
            h.add(d.sample(&mut rng));
        }
        let fits = fit_all(&h, &LogHist::default(), false);
        assert_eq!(fits[0].family, Family::Lognormal);
        let p = fits[0].params();
        assert!(p[0].covers(60.0) && p[1].covers(0.7), "{p:?}");
        assert!(p[0].hi / p[0].lo < 1.06, "interval too wide: {p:?}");
        assert!(fits[0].ks < 0.02);
    }

    #[test]
    fn censored_weibull_is_recovered_and_the_naive_fit_is_not() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(8);
        let d = Weibull::new(40.0, 1.5).unwrap();
        let (mut ev, mut ce, mut naive) =
            (LogHist::default(), LogHist::default(), LogHist::default());
        for i in 0..6000 {
            let x: f64 = d.sample(&mut rng);
            let c = 10.0 + (i % 50) as f64; // censoring at 10..59 s
            if x <= c {
                ev.add(x);
                naive.add(x);
            } else {
                ce.add(c);
            }
        }
        let f = fit(Family::Weibull, &ev, &ce, false);
        let p = f.params();
        assert!(p[0].covers(1.5) && p[1].covers(40.0), "{p:?}");
        let n = fit(Family::Weibull, &naive, &LogHist::default(), false).params();
        assert!(
            !n[1].covers(40.0),
            "ignoring censoring should be visibly biased: {n:?}"
        );
    }
}
