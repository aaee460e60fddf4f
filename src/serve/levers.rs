//! The controls the dashboard shows for a scenario: its levers, each a scenario key with its
//! current value, a range and a step, described from the key registry (`scenario::schema`:
//! type, unit, meaning, word lists). The defaults: each carrier's rate and burst, each call
//! source's legs, patience and `rate_scale`, the backup policy, and the backup policy of each
//! source that has one of its own.

use crate::dist::{CountDist, DurationDist};
use crate::limiter::LimiterSpec;
use crate::model::config::{BackupPolicy, SourceKind};
use crate::scenario::levers::LeverSpec;
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

/// The levers of `sc`: its `[levers]` table if it has one, else the default set. `text` is the
/// scenario file (for the current values of declared levers, with `variant` applied).
pub fn levers(sc: &Scenario, text: &str, variant: Option<&str>) -> Vec<Value> {
    if sc.levers.is_empty() {
        return default_levers(sc);
    }
    sc.levers
        .iter()
        .map(|l| declared(l, text, variant))
        .collect()
}

/// The value of `key` in the file as written, with `variant`'s overrides merged.
fn raw_value(text: &str, variant: Option<&str>, key: &str) -> Option<toml::Value> {
    let mut doc: toml::Table = toml::from_str(text).ok()?;
    let over = variant.and_then(|v| match doc.get("variants")?.get(v)? {
        toml::Value::Table(t) => Some(crate::scenario::expand_dotted(t)),
        _ => None,
    });
    if let Some(o) = over {
        crate::scenario::merge(&mut doc, &o);
    }
    let mut cur = toml::Value::Table(doc);
    for seg in key.split('.') {
        cur = cur.as_table()?.get(seg)?.clone();
    }
    Some(cur)
}

/// A number as a control shows it: rates per second, durations in seconds.
fn as_number(ty: &Ty, v: &toml::Value) -> Option<f64> {
    match (ty, v) {
        (Ty::Rate, toml::Value::String(s)) => {
            crate::time::parse_rate(s).ok().map(|r| r.per_second())
        }
        (Ty::Duration | Ty::Dist, toml::Value::String(s)) => {
            crate::time::parse_duration(s).ok().map(|d| d.as_secs_f64())
        }
        (_, toml::Value::Integer(i)) => Some(*i as f64),
        (_, toml::Value::Float(f)) => Some(*f),
        _ => None,
    }
}

/// The registry's default of `key`, when it is a TOML value ("1.0", "\"30s\"").
fn registry_default(key: &str) -> Option<toml::Value> {
    let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
    let def = match schema::lookup(table) {
        Some(Ty::Table(d)) => d,
        _ if table.is_empty() => &schema::ROOT,
        _ => return None,
    };
    let text = def.key(name)?.default;
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()?
        .remove("v")
}

/// A lever the scenario declares in `[levers]`.
fn declared(l: &LeverSpec, text: &str, variant: Option<&str>) -> Value {
    let raw = raw_value(text, variant, &l.key);
    let label = l.label.clone().unwrap_or_else(|| l.key.clone());
    let choices: Option<Vec<&str>> = match l.ty {
        Ty::Choice(c) => Some(c.to_vec()),
        Ty::Bool => Some(vec!["true", "false"]),
        _ => None,
    };
    if let Some(choices) = choices {
        let value = match &raw {
            Some(toml::Value::String(s)) => s.clone(),
            Some(toml::Value::Boolean(b)) => b.to_string(),
            _ => choices.first().map(|c| c.to_string()).unwrap_or_default(),
        };
        return json!({"key": l.key, "label": label, "kind": "choice", "value": value,
            "choices": choices, "meaning": meaning(&l.key)});
    }
    let value = raw
        .as_ref()
        .and_then(|v| as_number(&l.ty, v))
        .or_else(|| registry_default(&l.key).and_then(|v| as_number(&l.ty, &v)))
        .or(l.min)
        .unwrap_or(0.0);
    let whole = matches!(l.ty, Ty::Int { .. } | Ty::Legs);
    let step = l
        .step
        .unwrap_or(if whole || value >= 10.0 { 1.0 } else { 0.1 });
    let min = l.min.unwrap_or_else(|| nice(value / 4.0));
    let max = l.max.unwrap_or_else(|| nice(value * 4.0).max(min + step));
    let suffix = match l.ty {
        Ty::Rate => Suffix::PerSecond,
        Ty::Duration | Ty::Dist => Suffix::Seconds,
        _ => Suffix::None,
    };
    number(&l.key, label, value, (min, max, step), suffix)
}

/// The default levers (see the module docs).
fn default_levers(sc: &Scenario) -> Vec<Value> {
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
        let choices = schema::choices("backup", "policy").unwrap_or(&[]);
        out.push(
            json!({"key": "backup.policy", "label": "backup routing policy", "kind": "choice",
            "value": policy_word(&cfg.backup.policy), "choices": choices,
            "meaning": meaning("backup.policy")}),
        );
        // A source with a policy of its own ([backup.sources.NAME]) gets its own control:
        // backup routing for one customer while the others keep their tracking.
        for (i, p) in &cfg.backup.sources {
            let name = &cfg.sources[*i].name;
            let key = format!("backup.sources.{name}.policy");
            out.push(
                json!({"key": key, "label": format!("{name}: backup routing policy"),
                "kind": "choice", "value": policy_word(p), "choices": choices,
                "meaning": meaning(&key)}),
            );
        }
    }
    out
}

fn policy_word(p: &BackupPolicy) -> &'static str {
    match p {
        BackupPolicy::Off => "off",
        BackupPolicy::Manual(_) => "manual",
        BackupPolicy::Auto(_) => "auto",
    }
}
