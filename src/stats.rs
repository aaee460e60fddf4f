//! Statistics over replications: means, Student-t confidence intervals (paired for common
//! random numbers), and the named metrics every output reports. Pure; no I/O.

use crate::dist::ln_gamma;
use crate::model::obs::Observations;

/// Mean and a two-sided confidence interval of independent replication values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub n: usize,
    pub mean: f64,
    pub sd: f64,
    /// Half-width of the interval (NaN with fewer than 2 values).
    pub half_width: f64,
}

impl Estimate {
    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }
    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }
}

/// Estimate with a `level` (e.g. 0.95) Student-t interval; NaN values are ignored (a metric
/// undefined in some replication, such as a percentile of no samples).
pub fn estimate(values: &[f64], level: f64) -> Estimate {
    let v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    let n = v.len();
    if n == 0 {
        return Estimate {
            n,
            mean: f64::NAN,
            sd: f64::NAN,
            half_width: f64::NAN,
        };
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return Estimate {
            n,
            mean,
            sd: f64::NAN,
            half_width: f64::NAN,
        };
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    let t = t_quantile(1.0 - (1.0 - level) / 2.0, (n - 1) as f64);
    Estimate {
        n,
        mean,
        sd,
        half_width: t * sd / (n as f64).sqrt(),
    }
}

/// Paired difference b - a over replications that share random numbers.
pub fn paired_difference(a: &[f64], b: &[f64], level: f64) -> Estimate {
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| {
            if x.is_nan() || y.is_nan() {
                f64::NAN
            } else {
                y - x
            }
        })
        .collect();
    estimate(&d, level)
}

/// Quantile of Student's t with `df` degrees of freedom (p in (0.5, 1)), by bisection on the
/// CDF computed from the regularised incomplete beta function. Accurate to ~1e-10.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    assert!(p > 0.5 && p < 1.0 && df > 0.0, "t_quantile({p}, {df})");
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while t_cdf(hi, df) < p {
        hi *= 2.0;
        if hi > 1e12 {
            return f64::INFINITY;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// CDF of Student's t.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    let tail = 0.5 * reg_inc_beta(df / 2.0, 0.5, x);
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// Regularised incomplete beta I_x(a, b) by Lentz's continued fraction.
fn reg_inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - reg_inc_beta(b, a, 1.0 - x);
    }
    let front = ln_front.exp() / a;
    let tiny = 1e-300;
    let (mut f, mut c, mut d) = (1.0f64, 1.0f64, 0.0f64);
    for i in 0..=400 {
        let m = (i / 2) as f64;
        let num = if i == 0 {
            1.0
        } else if i % 2 == 0 {
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m))
        } else {
            -((a + m) * (a + b + m) * x) / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))
        };
        d = 1.0 + num * d;
        if d.abs() < tiny {
            d = tiny;
        }
        d = 1.0 / d;
        c = 1.0 + num / c;
        if c.abs() < tiny {
            c = tiny;
        }
        let cd = c * d;
        f *= cd;
        if (1.0 - cd).abs() < 1e-15 {
            break;
        }
    }
    front * (f - 1.0)
}

/// Named metrics of one replication, in a fixed order: the summary CSV's columns after the
/// replication id, and the rows `compare` reports. Units are last in every name.
pub fn metrics(o: &Observations) -> Vec<(&'static str, f64)> {
    let c = &o.counts;
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    let mut m: Vec<(&'static str, f64)> =
        c.fields().into_iter().map(|(k, v)| (k, v as f64)).collect();
    m.push(("abandoned", c.abandoned() as f64));
    m.push(("connect_ratio", ratio(c.connected, c.offered)));
    m.push(("served_ratio", ratio(c.served, c.offered)));
    m.push(("abandon_ratio", ratio(c.abandoned(), c.offered)));
    m.push(("fail_ratio", ratio(c.failed, c.offered)));
    m.push(("backup_ratio", ratio(c.backup_routed, c.offered)));
    m.push(("legs_per_call", ratio(c.legs_requested, c.offered)));
    for (name, h) in [("dial_delay_ms", &o.dial_delay), ("pdd_ms", &o.pdd)] {
        let (mean, p50, p90, p95, p99, max) = (
            h.mean_ms(),
            h.quantile_ms(0.5),
            h.quantile_ms(0.9),
            h.quantile_ms(0.95),
            h.quantile_ms(0.99),
            h.max_ms(),
        );
        let names: [&'static str; 6] = match name {
            "dial_delay_ms" => [
                "dial_delay_ms_mean",
                "dial_delay_ms_p50",
                "dial_delay_ms_p90",
                "dial_delay_ms_p95",
                "dial_delay_ms_p99",
                "dial_delay_ms_max",
            ],
            _ => [
                "pdd_ms_mean",
                "pdd_ms_p50",
                "pdd_ms_p90",
                "pdd_ms_p95",
                "pdd_ms_p99",
                "pdd_ms_max",
            ],
        };
        for (n, v) in names.into_iter().zip([mean, p50, p90, p95, p99, max]) {
            m.push((n, v));
        }
    }
    m.push(("answer_wait_s_mean", o.answer_wait.mean_ms() / 1e3));
    m.push(("abandon_wait_s_mean", o.abandon_wait.mean_ms() / 1e3));
    m.push(("backup_on_s", o.backup_on_s));
    m.push(("events", o.events as f64));
    m
}

/// Per-source (tenant/method) and per-stage metrics of one replication, named
/// `<metric>[<source>]` and `<metric>[stage:<stage>]`: what `compare` shows beside the totals so
/// a noisy neighbour's effect on other tenants is visible. Empty for a scenario with one source
/// and no stages (the totals say it all).
pub fn detail_metrics(
    o: &Observations,
    cfg: &crate::model::config::ModelConfig,
) -> Vec<(String, f64)> {
    let mut m = Vec::new();
    if cfg.sources.len() > 1 || !cfg.stages.is_empty() {
        for (s, so) in cfg.sources.iter().zip(&o.per_source) {
            let c = &so.total;
            let ok = if s.behaviour.client.kind == crate::model::config::SourceKind::Request {
                c.served
            } else {
                c.connected
            };
            let ratio = |a: u64| {
                if c.offered == 0 {
                    f64::NAN
                } else {
                    a as f64 / c.offered as f64
                }
            };
            m.push((format!("offered[{}]", s.name), c.offered as f64));
            m.push((format!("ok_ratio[{}]", s.name), ratio(ok)));
            m.push((
                format!("failed_refused[{}]", s.name),
                c.failed_refused as f64,
            ));
            m.push((format!("failed_error[{}]", s.name), c.failed_error as f64));
            m.push((
                format!("failed_blocked[{}]", s.name),
                c.failed_blocked as f64,
            ));
            m.push((
                format!("failed_timeout[{}]", s.name),
                c.failed_timeout as f64,
            ));
            m.push((format!("abandoned[{}]", s.name), c.abandoned() as f64));
        }
    }
    for (s, so) in cfg.stages.iter().zip(&o.stages) {
        let t = &so.total;
        m.push((format!("refused[stage:{}]", s.name), t.refused as f64));
        m.push((format!("errors[stage:{}]", s.name), t.errors as f64));
        m.push((
            format!("latency_ms_p95[stage:{}]", s.name),
            so.latency.quantile_ms(0.95),
        ));
        m.push((
            format!("sessions_in_use_max[stage:{}]", s.name),
            so.sessions_in_use_max as f64,
        ));
        if s.pods.is_some() {
            m.push((
                format!("pod_crashes[stage:{}]", s.name),
                t.pod_crashes as f64,
            ));
        }
        if s.dependency
            .as_ref()
            .is_some_and(|d| d.on_error == crate::model::config::LookupPolicy::DisableAccount)
        {
            m.push((
                format!("accounts_blocked[stage:{}]", s.name),
                t.accounts_blocked as f64,
            ));
        }
    }
    if !cfg.stages.is_empty() {
        m.push((
            "accounts_blocked_max".to_string(),
            o.accounts_blocked_max as f64,
        ));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        // Published two-sided 95% critical values.
        for (df, t) in [
            (1.0, 12.706_204_7),
            (4.0, 2.776_445_1),
            (19.0, 2.093_024_1),
            (29.0, 2.045_229_6),
            (1000.0, 1.962_339_3),
        ] {
            assert!(
                (t_quantile(0.975, df) - t).abs() < 1e-6,
                "df {df}: {}",
                t_quantile(0.975, df)
            );
        }
    }

    #[test]
    fn estimate_is_student_t() {
        let e = estimate(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        assert_eq!(e.mean, 3.0);
        assert!((e.sd - 2.5f64.sqrt()).abs() < 1e-12);
        assert!((e.half_width - 2.776_445_1 * 2.5f64.sqrt() / 5f64.sqrt()).abs() < 1e-6);
        let one = estimate(&[7.0], 0.95);
        assert_eq!(one.mean, 7.0);
        assert!(one.half_width.is_nan());
        let d = paired_difference(&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.5], 0.95);
        assert!((d.mean - 7.0 / 6.0).abs() < 1e-12);
    }
}
