//! Alert rules (`[[alerts]]`) over the timeline's metric stream, in the shape monitoring systems
//! use (a Prometheus alerting rule: an expression, a threshold, a `for` duration), evaluated per
//! replication as the timeline closes each interval. Streaming: a rule keeps its pending state,
//! at most `change_over / interval` past values and its firings, never the stream itself.
//!
//! Semantics (Prometheus's): at the end of each timeline interval the rule's value is computed
//! from that interval alone (any registry metric that exists per window, e.g. `abandon_ratio`,
//! `dial_delay_ms_p95`), or, with `change_over`, as the value now minus the value that many
//! intervals ago. The condition `value OP threshold` (false when the value is undefined) makes
//! the rule *pending* at the first evaluation where it holds; it *fires* at the first evaluation
//! `t` where it has held at every evaluation since it became pending and `t - pending >= for`;
//! it *resolves* at the first evaluation where the condition no longer holds, and may become
//! pending and fire again later. Pure; no I/O.

use crate::model::obs::{CallStats, Observations};
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// A comparison of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    /// The words the loader accepts, in the order of `parse`.
    pub const WORDS: &'static [&'static str] = &[">", ">=", "<", "<="];

    pub fn parse(s: &str) -> Option<Op> {
        match s {
            ">" => Some(Op::Gt),
            ">=" => Some(Op::Ge),
            "<" => Some(Op::Lt),
            "<=" => Some(Op::Le),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }

    /// Whether `x OP threshold` holds; never for an undefined (NaN) value.
    pub fn holds(self, x: f64, threshold: f64) -> bool {
        match self {
            Op::Gt => x > threshold,
            Op::Ge => x >= threshold,
            Op::Lt => x < threshold,
            Op::Le => x <= threshold,
        }
    }
}

/// One validated rule.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRule {
    pub name: String,
    /// Index of the metric in the registry (`metrics::registry()`); it exists per window.
    pub metric: usize,
    pub op: Op,
    pub threshold: f64,
    /// How long the condition must hold before the rule fires (0: at once).
    pub hold: SimDuration,
    /// Compare the change of the metric over this many timeline intervals instead of its value.
    pub change_intervals: Option<u32>,
}

impl AlertRule {
    pub fn metric_name(&self) -> &'static str {
        crate::metrics::registry()[self.metric].name
    }

    /// The rule as one line: `dial_delay_ms_p95 > 5000 for 5m`.
    pub fn describe(&self, interval: SimDuration) -> String {
        let what = match self.change_intervals {
            Some(k) => format!(
                "change of {} over {}",
                self.metric_name(),
                SimDuration(interval.as_ns() * u64::from(k))
            ),
            None => self.metric_name().to_string(),
        };
        format!(
            "{what} {} {} for {}",
            self.op.as_str(),
            self.threshold,
            self.hold
        )
    }
}

/// One firing: when the rule fired and, if it did before the run ended, when it resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Firing {
    pub fired: SimTime,
    pub resolved: Option<SimTime>,
}

/// The streaming state of one rule in one replication.
#[derive(Clone, Debug, Default)]
pub struct RuleState {
    pending_since: Option<SimTime>,
    firing: bool,
    /// The last `change_intervals` values, oldest first (rate-of-change rules only).
    past: VecDeque<f64>,
    pub firings: Vec<Firing>,
}

impl RuleState {
    /// Evaluates `rule` at `at` on the metric's value for the interval that just closed.
    pub fn step(&mut self, rule: &AlertRule, at: SimTime, value: f64) {
        let x = match rule.change_intervals {
            None => value,
            Some(k) => {
                let old = if self.past.len() == k as usize {
                    self.past.pop_front().unwrap_or(f64::NAN)
                } else {
                    f64::NAN
                };
                self.past.push_back(value);
                value - old
            }
        };
        if rule.op.holds(x, rule.threshold) {
            let since = *self.pending_since.get_or_insert(at);
            if !self.firing && at.since(since) >= rule.hold {
                self.firing = true;
                self.firings.push(Firing {
                    fired: at,
                    resolved: None,
                });
            }
        } else {
            self.pending_since = None;
            if self.firing {
                self.firing = false;
                if let Some(f) = self.firings.last_mut() {
                    f.resolved = Some(at);
                }
            }
        }
    }
}

/// Every rule's state in one replication; fed by the timeline as each interval closes.
#[derive(Clone, Debug)]
pub struct AlertEval {
    rules: Vec<AlertRule>,
    pub states: Vec<RuleState>,
}

impl AlertEval {
    pub fn new(rules: &[AlertRule]) -> AlertEval {
        AlertEval {
            rules: rules.to_vec(),
            states: vec![RuleState::default(); rules.len()],
        }
    }

    /// Evaluates every rule at `at` (the end of the interval) on the interval's observations.
    pub fn observe(&mut self, at: SimTime, stats: &CallStats) {
        for (rule, st) in self.rules.iter().zip(&mut self.states) {
            let v = crate::metrics::value_of_calls(rule.metric, stats);
            st.step(rule, at, v);
        }
    }
}

/// The per-replication values each rule adds to a unit's metric values, in this order.
pub const VALUE_KINDS: &[(&str, &str)] = &[
    ("alert_fired", "1 if the rule fired in the replication, else 0"),
    (
        "alert_first_fired_s",
        "seconds from the run's start to the rule's first firing (time to detect); empty if it never fired",
    ),
    (
        "alert_first_resolved_s",
        "seconds from the start to the first firing's resolution; empty if it never fired or never resolved",
    ),
    ("alert_firings", "how many times the rule fired (each firing after a resolve counts)"),
];

/// The value names of `rules`: `alert_fired[NAME]`, ... for each rule in turn.
pub fn value_names(rules: &[AlertRule]) -> Vec<String> {
    rules
        .iter()
        .flat_map(|r| {
            VALUE_KINDS
                .iter()
                .map(move |(k, _)| format!("{k}[{}]", r.name))
        })
        .collect()
}

/// What each of `value_names` can be in one replication: `alert_fired` and `alert_firings`
/// are counts; the times are undefined (NaN) when the rule never fired or never resolved.
pub fn value_kinds(rules: &[AlertRule]) -> Vec<crate::metrics::ValueKind> {
    use crate::metrics::ValueKind;
    rules
        .iter()
        .flat_map(|_| {
            VALUE_KINDS.iter().map(|(k, _)| {
                if k.ends_with("_s") {
                    ValueKind::MaybeUndefined
                } else {
                    ValueKind::Count
                }
            })
        })
        .collect()
}

/// One replication's values for `value_names` (empty when the scenario has no rules).
pub fn values(rules: &[AlertRule], start: SimTime, o: &Observations) -> Vec<f64> {
    let Some(eval) = o.timeline.alerts.as_ref() else {
        return vec![f64::NAN; rules.len() * VALUE_KINDS.len()];
    };
    let secs = |t: SimTime| t.since(start).as_secs_f64();
    eval.states
        .iter()
        .flat_map(|st| {
            let first = st.firings.first();
            [
                f64::from(u8::from(first.is_some())),
                first.map_or(f64::NAN, |f| secs(f.fired)),
                first.and_then(|f| f.resolved).map_or(f64::NAN, secs),
                st.firings.len() as f64,
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000_000_000;

    fn rule(op: Op, threshold: f64, hold_min: u64, change: Option<u32>) -> AlertRule {
        AlertRule {
            name: "r".into(),
            metric: crate::metrics::index_of("dial_delay_ms_p95").unwrap(),
            op,
            threshold,
            hold: SimDuration(hold_min * MIN),
            change_intervals: change,
        }
    }

    /// Feeds one value per minute, the first evaluated at 00:01; returns the firings as
    /// (fired minute, resolved minute).
    fn run(r: &AlertRule, stream: &[f64]) -> Vec<(u64, Option<u64>)> {
        let mut st = RuleState::default();
        for (i, v) in stream.iter().enumerate() {
            st.step(r, SimTime((i as u64 + 1) * MIN), *v);
        }
        assert!(st.past.len() <= r.change_intervals.unwrap_or(0) as usize);
        st.firings
            .iter()
            .map(|f| (f.fired.as_ns() / MIN, f.resolved.map(|t| t.as_ns() / MIN)))
            .collect()
    }

    #[test]
    fn fires_exactly_when_the_condition_has_held_for_the_duration() {
        let r = rule(Op::Gt, 5.0, 3, None);
        // True at minutes 3, 4, 5, 6 (pending at 3): 6 - 3 = 3 >= 3 fires at 6.
        let s = [0.0, 0.0, 6.0, 6.0, 6.0, 6.0, 6.0, 1.0];
        assert_eq!(run(&r, &s), vec![(6, Some(8))]);
        // One evaluation short: true at 3, 4, 5 only; never fires.
        let s = [0.0, 0.0, 6.0, 6.0, 6.0, 1.0, 6.0];
        assert_eq!(run(&r, &s), vec![]);
        // The threshold itself does not satisfy `>`, does satisfy `>=`.
        let s = [5.0; 5];
        assert_eq!(run(&r, &s), vec![]);
        assert_eq!(run(&rule(Op::Ge, 5.0, 3, None), &s), vec![(4, None)]);
    }

    #[test]
    fn for_zero_fires_at_once_and_an_undefined_value_resolves() {
        let r = rule(Op::Gt, 5.0, 0, None);
        let s = [9.0, f64::NAN, 9.0, 9.0];
        assert_eq!(run(&r, &s), vec![(1, Some(2)), (3, None)]);
        let r = rule(Op::Lt, 0.5, 0, None);
        assert_eq!(run(&r, &[f64::NAN, 0.1]), vec![(2, None)]);
    }

    #[test]
    fn resolves_and_fires_again_after_a_new_pending_period() {
        let r = rule(Op::Gt, 5.0, 2, None);
        // Fires at 3 (pending 1), resolves at 4; pending again at 5, fires at 7, resolves at 9.
        let s = [9.0, 9.0, 9.0, 0.0, 9.0, 9.0, 9.0, 9.0, 0.0, 9.0];
        assert_eq!(run(&r, &s), vec![(3, Some(4)), (7, Some(9))]);
        // A dip resets the pending period: 9, 9, dip, 9, 9, 9 fires at 6 only.
        let s = [9.0, 9.0, 0.0, 9.0, 9.0, 9.0];
        assert_eq!(run(&r, &s), vec![(6, None)]);
    }

    #[test]
    fn rate_of_change_compares_with_the_value_k_intervals_ago() {
        // Change over 2 intervals > 100: undefined for the first 2 evaluations.
        let r = rule(Op::Gt, 100.0, 0, Some(2));
        // values:   0, 50, 120, 200, 210, 220, 500
        // change:   -, -,  120, 150,  90,  20, 290
        let s = [0.0, 50.0, 120.0, 200.0, 210.0, 220.0, 500.0];
        assert_eq!(run(&r, &s), vec![(3, Some(5)), (7, None)]);
        // With `for = 1m` the rule needs the change above the threshold twice in a row.
        let r = rule(Op::Gt, 100.0, 1, Some(2));
        assert_eq!(run(&r, &s), vec![(4, Some(5))]);
        // A NaN inside the window makes the change undefined while it is in the window.
        let r = rule(Op::Gt, 100.0, 0, Some(1));
        let s = [0.0, 200.0, f64::NAN, 400.0, 600.0];
        assert_eq!(run(&r, &s), vec![(2, Some(3)), (5, None)]);
    }

    #[test]
    fn describe_says_what_the_rule_tests() {
        let r = rule(Op::Gt, 2000.0, 0, Some(5));
        assert_eq!(
            r.describe(SimDuration(MIN)),
            "change of dial_delay_ms_p95 over 5m > 2000 for 0s"
        );
    }
}
