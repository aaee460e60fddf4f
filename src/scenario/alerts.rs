//! `[[alerts]]`: alert rules over the timeline's metric stream (see `crate::alerts` for how they
//! are evaluated):
//!
//! ```toml
//! [[alerts]]
//! name = "dial delay p95 high"
//! metric = "dial_delay_ms_p95"   # a registry metric that exists per window
//! op = ">"
//! threshold = 5000
//! for = "5m"
//! ```
//!
//! `change_over = "5m"` makes the rule compare the metric's change over that span (a whole
//! number of timeline intervals) instead of its value.

use super::reader::{describe, Obj, Result};
use crate::alerts::{AlertRule, Op};
use crate::time::{parse_duration, SimDuration};

/// Most rules a scenario may have.
pub const MAX_ALERTS: usize = 64;

/// Reads every `[[alerts]]` entry; `interval` is the timeline's (rules are evaluated on it).
pub fn build_alerts(top: &Obj, interval: SimDuration) -> Result<Vec<AlertRule>> {
    let Some(arr) = top.array_opt("alerts")? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<AlertRule> = Vec::new();
    for (i, v) in arr.iter().enumerate() {
        let path = format!("alerts[{i}]");
        let toml::Value::Table(t) = v else {
            return Err(top.ctx.err(
                &path,
                format!(
                    "expected a table ([[alerts]] with name, metric, op, threshold), found {}",
                    describe(v)
                ),
            ));
        };
        if out.len() == MAX_ALERTS {
            return Err(top.ctx.err(
                &path,
                format!("at most {MAX_ALERTS} alert rules are allowed"),
            ));
        }
        let o = Obj::new(top.ctx, path, t);
        let rule = build_rule(&o, interval)?;
        if out.iter().any(|r| r.name == rule.name) {
            return Err(o.err(
                "name",
                format!(
                    "another rule is already called `{}`; names must be unique",
                    rule.name
                ),
            ));
        }
        out.push(rule);
    }
    Ok(out)
}

fn build_rule(o: &Obj, interval: SimDuration) -> Result<AlertRule> {
    let _ = o.str_opt("description")?;
    let name = o.str_req("name", "\"dial delay p95 high\"")?;
    check_name(name).map_err(|m| o.err("name", m))?;
    let metric_name = o.str_req("metric", "\"dial_delay_ms_p95\"")?;
    let metric = metric_index(metric_name).map_err(|m| o.err("metric", m))?;
    let op = o
        .choice_opt("op", Op::WORDS)?
        .ok_or_else(|| o.missing("op", "\">\" (or >=, <, <=)"))?;
    let threshold = o
        .f64_opt("threshold")?
        .ok_or_else(|| o.missing("threshold", "5000 (in the metric's unit)"))?;
    let hold = duration(o, "for")?.unwrap_or(SimDuration::ZERO);
    let change_intervals = match duration(o, "change_over")? {
        None => None,
        Some(d) => Some(intervals(d, interval).map_err(|m| o.err("change_over", m))?),
    };
    o.finish(&[])?;
    Ok(AlertRule {
        name: name.to_string(),
        metric,
        op: Op::parse(op).expect("a word of Op::WORDS"),
        threshold,
        hold,
        change_intervals,
    })
}

/// Rule names appear in CSV and in value names (`alert_fired[NAME]`).
fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.trim().is_empty() {
        return Err("expected a non-empty name such as \"dial delay p95 high\"".into());
    }
    if name.trim() != name || name.chars().any(|c| c.is_control() || c == '[' || c == ']') {
        return Err(format!(
            "`{name}`: a rule name may not start or end with spaces or hold `[`, `]` or control characters"
        ));
    }
    Ok(())
}

/// The registry index of a metric a rule can read per interval, with a "did you mean".
fn metric_index(name: &str) -> std::result::Result<usize, String> {
    let r = crate::metrics::registry();
    if let Some(i) = crate::metrics::index_of(name) {
        if r[i].per_window() {
            return Ok(i);
        }
        return Err(format!(
            "metric `{name}` is a property of the whole run and has no value per timeline interval; use a metric that exists per window (`callsim metrics` marks them), e.g. dial_delay_ms_p95, abandon_ratio"
        ));
    }
    let hint = r
        .iter()
        .filter(|d| d.per_window())
        .find(|d| crate::scenario::reader::close(name, d.name))
        .map(|d| format!(" (did you mean `{}`?)", d.name))
        .unwrap_or_default();
    let why = if name.contains('@') {
        "; a rule reads the timeline's intervals, not a named window: leave out `@WINDOW`"
    } else {
        ""
    };
    Err(format!(
        "unknown metric `{name}`{hint}{why}; expected a metric that exists per window (`callsim metrics` lists them), e.g. dial_delay_ms_p95, abandon_ratio, legs_dialed"
    ))
}

fn duration(o: &Obj, key: &str) -> Result<Option<SimDuration>> {
    match o.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => parse_duration(s).map(Some).map_err(|m| o.err(key, m)),
        Some(toml::Value::Integer(0)) => Ok(Some(SimDuration::ZERO)),
        Some(v) => Err(o.err(
            key,
            format!(
                "expected a duration string such as \"5m\", found {}",
                describe(v)
            ),
        )),
    }
}

/// `d` as a whole number (>= 1) of timeline intervals.
fn intervals(d: SimDuration, interval: SimDuration) -> std::result::Result<u32, String> {
    let (n, i) = (d.as_ns(), interval.as_ns());
    if n == 0 || !n.is_multiple_of(i) {
        return Err(format!(
            "`{d}` is not a whole number of timeline intervals ({interval}); expected a duration > 0 that is a multiple of timeline_interval, such as \"{}\"",
            SimDuration(i * 5)
        ));
    }
    u32::try_from(n / i)
        .ok()
        .filter(|k| *k <= 100_000)
        .ok_or_else(|| {
            format!("`{d}` spans more than 100000 timeline intervals ({interval}); expected a shorter span")
        })
}
