//! Statistics over replications: means, Student-t confidence intervals (paired for common
//! random numbers), and the named metrics every output reports. Pure; no I/O.

use crate::dist::ln_gamma;
use crate::metrics::ValueKind;
use crate::model::config::{LookupPolicy, ModelConfig, SourceKind};
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

/// Per-source (tenant/method) and per-stage metrics of one replication, named
/// `<metric>[<source>]` and `<metric>[stage:<stage>]`: what `compare` shows beside the totals so
/// a noisy neighbour's effect on other tenants is visible. Empty for a scenario with one source
/// and no stages (the totals say it all).
pub fn detail_metrics(o: &Observations, cfg: &ModelConfig) -> Vec<(String, f64)> {
    details(cfg, Some(o))
        .into_iter()
        .map(|(n, _, v)| (n, v))
        .collect()
}

/// The names `detail_metrics` gives for `cfg`, known before any run.
pub fn detail_names(cfg: &ModelConfig) -> Vec<String> {
    details(cfg, None).into_iter().map(|(n, _, _)| n).collect()
}

/// The values each of `detail_names` can take in one replication, in the same order.
pub fn detail_kinds(cfg: &ModelConfig) -> Vec<ValueKind> {
    details(cfg, None).into_iter().map(|(_, k, _)| k).collect()
}

fn details(cfg: &ModelConfig, o: Option<&Observations>) -> Vec<(String, ValueKind, f64)> {
    let mut m = Vec::new();
    // Every detail is a count but the ratios and latencies, which are undefined (NaN) when
    // there is nothing to measure.
    let mut put = |name: String, f: &dyn Fn(&Observations) -> f64| {
        let kind = if name.starts_with("ok_ratio[") || name.starts_with("latency_ms_") {
            ValueKind::MaybeUndefined
        } else {
            ValueKind::Count
        };
        m.push((name, kind, o.map_or(f64::NAN, f)));
    };
    if cfg.sources.len() > 1 || !cfg.stages.is_empty() {
        for (i, s) in cfg.sources.iter().enumerate() {
            let request = s.behaviour.client.kind == SourceKind::Request;
            let n = &s.name;
            put(format!("offered[{n}]"), &|o| {
                o.per_source[i].total.offered as f64
            });
            put(format!("ok_ratio[{n}]"), &|o| {
                let c = &o.per_source[i].total;
                let ok = if request { c.served } else { c.connected };
                if c.offered == 0 {
                    f64::NAN
                } else {
                    ok as f64 / c.offered as f64
                }
            });
            put(format!("failed_refused[{n}]"), &|o| {
                o.per_source[i].total.failed_refused as f64
            });
            put(format!("failed_error[{n}]"), &|o| {
                o.per_source[i].total.failed_error as f64
            });
            put(format!("failed_blocked[{n}]"), &|o| {
                o.per_source[i].total.failed_blocked as f64
            });
            put(format!("failed_timeout[{n}]"), &|o| {
                o.per_source[i].total.failed_timeout as f64
            });
            put(format!("abandoned[{n}]"), &|o| {
                o.per_source[i].total.abandoned() as f64
            });
        }
    }
    for (i, s) in cfg.stages.iter().enumerate() {
        let n = &s.name;
        put(format!("refused[stage:{n}]"), &|o| {
            o.stages[i].total.refused as f64
        });
        put(format!("errors[stage:{n}]"), &|o| {
            o.stages[i].total.errors as f64
        });
        for &(stat, q) in crate::metrics::DELAY_STATS {
            put(format!("latency_ms_{stat}[stage:{n}]"), &|o| {
                let h = &o.stages[i].latency;
                if q >= 1.0 {
                    h.max_ms()
                } else {
                    h.quantile_ms(q)
                }
            });
        }
        put(format!("sessions_in_use_max[stage:{n}]"), &|o| {
            o.stages[i].sessions_in_use_max as f64
        });
        if s.pods.is_some() {
            put(format!("pod_crashes[stage:{n}]"), &|o| {
                o.stages[i].total.pod_crashes as f64
            });
        }
        if s.dependency
            .as_ref()
            .is_some_and(|d| d.on_error == LookupPolicy::DisableAccount)
        {
            put(format!("accounts_blocked[stage:{n}]"), &|o| {
                o.stages[i].total.accounts_blocked as f64
            });
        }
    }
    if !cfg.stages.is_empty() {
        put("accounts_blocked_max".to_string(), &|o| {
            o.accounts_blocked_max as f64
        });
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
