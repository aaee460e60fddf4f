//! Values shared by every table: durations, duration distributions (fixed, named families,
//! empirical, mixtures) and their keys.

use super::*;

use schema::DIST_KINDS;

/// A duration distribution: a duration string ("30s" = fixed) or a table with `dist`.
pub fn dist_key(o: &Obj, key: &str) -> Result<Option<DurationDist>> {
    match o.get(key) {
        None => Ok(None),
        Some(v) => dist_value(o.ctx, &o.key_path(key), v).map(Some),
    }
}

pub(super) fn dist_value(ctx: &Ctx, path: &str, v: &toml::Value) -> Result<DurationDist> {
    match v {
        toml::Value::String(s) => parse_duration(s).map(DurationDist::Fixed).map_err(|m| ctx.err(path, m)),
        toml::Value::Integer(0) => Ok(DurationDist::Fixed(SimDuration::ZERO)),
        toml::Value::Table(t) => dist_table(&Obj::new(ctx, path, t), false),
        other => Err(ctx.err(
            path,
            format!("expected a duration (\"30s\") or a distribution table such as {{ dist = \"exponential\", mean = \"90s\" }}, found {}", describe(other)),
        )),
    }
}

pub(super) fn secs(o: &Obj, key: &str) -> Result<Option<f64>> {
    Ok(dur_key(o, key)?.map(|d| d.as_secs_f64()))
}

pub(super) fn req_positive_secs(o: &Obj, key: &str, example: &str) -> Result<f64> {
    match secs(o, key)? {
        None => Err(o.missing(key, example)),
        Some(s) if s <= 0.0 => Err(o.err(key, "expected a duration > 0")),
        Some(s) => Ok(s),
    }
}

/// A distribution table; `in_mixture` allows the component's `weight` key.
pub(super) fn dist_table(o: &Obj, in_mixture: bool) -> Result<DurationDist> {
    let kind = o.choice_opt("dist", DIST_KINDS)?.ok_or_else(|| o.missing("dist", "\"exponential\" (one of fixed, exponential, lognormal, weibull, uniform, empirical, mixture)"))?;
    let d = match kind {
        "fixed" => {
            DurationDist::Fixed(dur_key(o, "value")?.ok_or_else(|| o.missing("value", "\"30s\""))?)
        }
        "exponential" => DurationDist::Exponential {
            mean_s: req_positive_secs(o, "mean", "\"90s\"")?,
        },
        "lognormal" => {
            if o.has("median") || o.has("sigma") {
                let median = req_positive_secs(o, "median", "\"20s\"")?;
                let sigma = o
                    .positive_f64_opt("sigma")?
                    .ok_or_else(|| o.missing("sigma", "0.8"))?;
                DurationDist::LogNormal {
                    mu: median.ln(),
                    sigma,
                }
            } else {
                let mean = req_positive_secs(o, "mean", "\"30s\"")?;
                let sd = req_positive_secs(o, "sd", "\"20s\"")?;
                let s2 = (1.0 + (sd / mean).powi(2)).ln();
                DurationDist::LogNormal {
                    mu: mean.ln() - s2 / 2.0,
                    sigma: s2.sqrt(),
                }
            }
        }
        "weibull" => DurationDist::Weibull {
            shape: o
                .positive_f64_opt("shape")?
                .ok_or_else(|| o.missing("shape", "1.5"))?,
            scale_s: req_positive_secs(o, "scale", "\"60s\"")?,
        },
        "uniform" => {
            let min = secs(o, "min")?.ok_or_else(|| o.missing("min", "\"1s\""))?;
            let max = secs(o, "max")?.ok_or_else(|| o.missing("max", "\"5s\""))?;
            if max < min {
                return Err(o.err("max", "expected max >= min"));
            }
            DurationDist::Uniform {
                min_s: min,
                max_s: max,
            }
        }
        "empirical" => {
            let file = o.str_req("file", "\"data/patience.csv\"")?;
            let column = o.str_opt("column")?;
            let path = o.ctx.resolve(file);
            let values = trace::read_values(&path, column).map_err(|m| o.err("file", m))?;
            DurationDist::Empirical {
                sorted_s: Arc::new(values),
            }
        }
        _ => {
            let comps = o.array_opt("components")?.ok_or_else(|| o.missing("components", "[{ weight = 0.997, dist = \"fixed\", value = \"20ms\" }, { weight = 0.003, dist = \"exponential\", mean = \"2s\" }]"))?;
            if comps.is_empty() {
                return Err(o.err("components", "expected at least one component"));
            }
            let mut parts = Vec::new();
            for (i, c) in comps.iter().enumerate() {
                let path = format!("{}[{i}]", o.key_path("components"));
                let toml::Value::Table(t) = c else {
                    return Err(o.ctx.err(
                        &path,
                        format!(
                            "expected a table with `weight` and a distribution, found {}",
                            describe(c)
                        ),
                    ));
                };
                let co = Obj::new(o.ctx, path, t);
                let w = co
                    .f64_opt("weight")?
                    .ok_or_else(|| co.missing("weight", "0.5"))?;
                if w < 0.0 {
                    return Err(co.err("weight", "expected a weight >= 0"));
                }
                let d = dist_table(&co, true)?;
                parts.push((w, d));
            }
            let total: f64 = parts.iter().map(|p| p.0).sum();
            if (total - 1.0).abs() > 1e-6 {
                return Err(o.err(
                    "components",
                    format!("the component weights must sum to 1, they sum to {total}"),
                ));
            }
            DurationDist::Mixture(parts)
        }
    };
    if in_mixture {
        let _ = o.get("weight");
    }
    o.finish(&[])?;
    Ok(d)
}
