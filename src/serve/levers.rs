//! The controls the dashboard shows for a scenario: its levers, each a scenario key with its
//! current value, a range and a step, described from the key registry (`scenario::schema`:
//! type, unit, meaning, word lists). The defaults: each carrier's rate and burst, each call
//! source's legs, patience and `rate_scale`, and the backup policy.

use crate::dist::{CountDist, DurationDist};
use crate::limiter::LimiterSpec;
use crate::model::config::{BackupPolicy, SourceKind};
use crate::scenario::schema::{self, Ty};
use crate::scenario::Scenario;
use serde_json::{json, Value};

/// How a lever's number is written as a `--set` value.
#[derive(Clone, Copy)]
enum Suffix {
    PerSecond,
    Seconds,
    None,
}

fn number(
    key: &str,
    label: String,
    value: f64,
    (min, max, step): (f64, f64, f64),
    suffix: Suffix,
) -> Value {
    let ty = schema::lookup(key);
    let meaning = meaning(key);
    let unit = ty
        .map(|t| schema::unit(key.rsplit('.').next().unwrap_or(key), &t))
        .unwrap_or("");
    let suffix = match suffix {
        Suffix::PerSecond => "/s",
        Suffix::Seconds => "s",
        Suffix::None => "",
    };
    json!({"key": key, "label": label, "kind": "number", "value": value, "min": min,
           "max": max, "step": step, "suffix": suffix, "unit": unit, "meaning": meaning})
}

fn meaning(key: &str) -> String {
    let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
    let def = match schema::lookup(table) {
        Some(Ty::Table(d)) => Some(d),
        Some(Ty::Dist) => Some(&schema::DIST),
        _ if table.is_empty() => Some(&schema::ROOT),
        _ => None,
    };
    def.and_then(|d| d.key(name))
        .map(|k| k.meaning.to_string())
        .unwrap_or_default()
}

/// Rounds a range end to a readable number.
fn nice(x: f64) -> f64 {
    if x >= 10.0 {
        x.round()
    } else {
        (x * 10.0).round() / 10.0
    }
}

/// The levers of `sc` (the default set; see the module docs).
pub fn levers(sc: &Scenario) -> Vec<Value> {
    let cfg = &sc.model;
    let mut out = Vec::new();
    for c in &cfg.carriers {
        if let LimiterSpec::TokenBucket { rate, burst } | LimiterSpec::Gcra { rate, burst } =
            &c.limiter
        {
            let r = rate.per_second();
            let key = format!("carriers.{}.rate", c.name);
            out.push(number(
                &key,
                format!("{}: dial rate (per s)", c.name),
                r,
                (
                    nice((r / 4.0).max(0.1)),
                    nice(r * 4.0).max(1.0),
                    if r >= 10.0 { 1.0 } else { 0.1 },
                ),
                Suffix::PerSecond,
            ));
            let b = *burst as f64;
            let key = format!("carriers.{}.burst", c.name);
            out.push(number(
                &key,
                format!("{}: burst", c.name),
                b,
                (1.0, (b * 4.0).max(10.0).round(), 1.0),
                Suffix::None,
            ));
        }
    }
    for s in &cfg.sources {
        if s.behaviour.client.kind == SourceKind::Request {
            continue;
        }
        let b = &s.behaviour;
        if let CountDist::Fixed(k) = b.flow.legs {
            let key = format!("sources.{}.flow.legs", s.name);
            out.push(number(
                &key,
                format!("{}: legs per call", s.name),
                k as f64,
                (1.0, schema::MAX_LEGS as f64, 1.0),
                Suffix::None,
            ));
        }
        match &b.patience {
            Some(DurationDist::Exponential { mean_s }) => {
                let key = format!("sources.{}.patience.mean", s.name);
                out.push(number(
                    &key,
                    format!("{}: mean patience (s)", s.name),
                    *mean_s,
                    (1.0, nice(mean_s * 4.0).max(10.0), 1.0),
                    Suffix::Seconds,
                ));
            }
            Some(DurationDist::Fixed(d)) => {
                let v = d.as_secs_f64();
                let key = format!("sources.{}.patience", s.name);
                out.push(number(
                    &key,
                    format!("{}: patience (s)", s.name),
                    v,
                    (1.0, nice(v * 4.0).max(10.0), 1.0),
                    Suffix::Seconds,
                ));
            }
            _ => {}
        }
        let key = format!("sources.{}.rate_scale", s.name);
        out.push(number(
            &key,
            format!("{}: rate scale", s.name),
            b.rate_scale,
            (0.0, nice((b.rate_scale * 3.0).max(2.0)), 0.05),
            Suffix::None,
        ));
    }
    if !cfg.carriers.is_empty() {
        let policy = match cfg.backup.policy {
            BackupPolicy::Off => "off",
            BackupPolicy::Manual(_) => "manual",
            BackupPolicy::Auto(_) => "auto",
        };
        let choices = schema::choices("backup", "policy").unwrap_or(&[]);
        out.push(
            json!({"key": "backup.policy", "label": "backup routing policy", "kind": "choice",
            "value": policy, "choices": choices, "meaning": meaning("backup.policy")}),
        );
    }
    out
}
