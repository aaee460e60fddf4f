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
use crate::time::SimDuration;

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
    let hold = super::dur_key(o, "for")?.unwrap_or(SimDuration::ZERO);
    let change_intervals = match super::dur_key(o, "change_over")? {
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
        .or_else(|| {
            // `dial_delay_p95` for `dial_delay_ms_p95`: the unit left out.
            r.iter()
                .filter(|d| d.per_window())
                .find(|d| d.name.replace("_ms_", "_").replace("_s_", "_") == name)
        })
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

#[cfg(test)]
mod tests {
    use crate::alerts::Op;
    use std::path::Path;

    const BASE: &str = r#"start = "09:00"
end = "09:10"
timeline_interval = "1m"

[carriers.main]
rate = "2/s"

[sources.callers]
rate = "1/s"

[[alerts]]
name = "slow"
metric = "dial_delay_ms_p95"
op = ">"
threshold = 5000
for = "5m"
"#;

    /// Loads `BASE` with `from` replaced by `to` (line 11 is `[[alerts]]`).
    fn load(from: &str, to: &str) -> Result<crate::scenario::Scenario, String> {
        assert!(BASE.contains(from), "BASE has no `{from}`");
        crate::scenario::load_str(
            Path::new("case.toml"),
            &BASE.replacen(from, to, 1),
            None,
            &[],
        )
        .map_err(|e| e.to_string())
    }

    fn err(from: &str, to: &str, parts: &[&str]) {
        let e = load(from, to).expect_err("accepted");
        for p in parts {
            assert!(e.contains(p), "`{p}` not in: {e}");
        }
    }

    #[test]
    fn a_rule_is_read_as_written() {
        let sc = load("for = \"5m\"", "for = \"5m\"\nchange_over = \"3m\"").unwrap();
        let r = &sc.model.alerts[0];
        assert_eq!(r.name, "slow");
        assert_eq!(r.metric_name(), "dial_delay_ms_p95");
        assert_eq!(r.op, Op::Gt);
        assert_eq!(r.threshold, 5000.0);
        assert_eq!(r.hold.as_ns(), 300_000_000_000);
        assert_eq!(r.change_intervals, Some(3));
        let sc = load("for = \"5m\"\n", "").unwrap();
        assert_eq!(sc.model.alerts[0].hold.as_ns(), 0);
        assert_eq!(sc.model.alerts[0].change_intervals, None);
    }

    #[test]
    fn bad_rules_name_file_line_key_and_expectation() {
        err(
            "\"dial_delay_ms_p95\"",
            "\"dial_delay_p95\"",
            &[
                "case.toml:13",
                "alerts[0].metric",
                "did you mean `dial_delay_ms_p95`",
            ],
        );
        err(
            "\"dial_delay_ms_p95\"",
            "\"backup_on_s\"",
            &[
                "alerts[0].metric",
                "whole run",
                "no value per timeline interval",
            ],
        );
        err(
            "\"dial_delay_ms_p95\"",
            "\"abandon_ratio@peak\"",
            &["alerts[0].metric", "leave out `@WINDOW`"],
        );
        err(
            "op = \">\"",
            "op = \"=>\"",
            &[
                "case.toml:14",
                "alerts[0].op",
                "expected one of: >, >=, <, <=",
            ],
        );
        err("op = \">\"\n", "", &["alerts[0]", "missing key `op`"]);
        err(
            "threshold = 5000",
            "threshold = \"5s\"",
            &[
                "case.toml:15",
                "alerts[0].threshold",
                "expected a finite number",
            ],
        );
        err("threshold = 5000\n", "", &["missing key `threshold`"]);
        err(
            "for = \"5m\"",
            "for = 5",
            &["case.toml:16", "alerts[0].for", "duration string"],
        );
        err(
            "for = \"5m\"",
            "for = \"5m\"\nchange_over = \"90s\"",
            &[
                "alerts[0].change_over",
                "not a whole number of timeline intervals (1m)",
            ],
        );
        err(
            "for = \"5m\"",
            "fro = \"5m\"",
            &["alerts[0].fro", "did you mean `for`"],
        );
        err(
            "name = \"slow\"",
            "name = \"a [b]\"",
            &["alerts[0].name", "may not"],
        );
        err("name = \"slow\"\n", "", &["missing key `name`"]);
    }

    #[test]
    fn names_are_unique_and_entries_are_tables() {
        let twice = format!("{BASE}\n[[alerts]]\nname = \"slow\"\nmetric = \"abandon_ratio\"\nop = \">\"\nthreshold = 0.1\n");
        let e = crate::scenario::load_str(Path::new("case.toml"), &twice, None, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("alerts[1].name") && e.contains("must be unique"),
            "{e}"
        );
        let e = crate::scenario::load_str(
            Path::new("case.toml"),
            &BASE.replace("[[alerts]]", "alerts = [1]\n[[x]]"),
            None,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(!e.is_empty());
    }
}
