//! The metric registry: every metric's name, unit, meaning, how it is computed from one
//! replication, and whether it exists per named window. `run`, `compare`, `sweep`, `plan`, the
//! CSV writers and docs/outputs.md all read it; a metric is looked up by name once (an unknown
//! name is an error with a "did you mean") and by index afterwards. Pure; no I/O.
//!
//! Aggregation across replications is the same for every metric: the mean of the replication
//! values with a Student-t interval (`stats::estimate`); a value undefined in a replication (a
//! percentile of no samples, a ratio of nothing) is NaN there and left out of the mean.

use crate::model::config::ModelConfig;
use crate::model::obs::{CallStats, Counts, DelayHist, Observations};
use std::sync::OnceLock;

/// How a metric is computed from one replication.
#[derive(Clone, Copy)]
enum Compute {
    /// Counter `i` of `Counts::DOCS`.
    Count(usize),
    /// A count from the call-level observations (totals or a window's).
    CallsCount(fn(&CallStats) -> u64),
    /// From the call-level observations (totals or a window's); NaN when undefined (a ratio of
    /// nothing, a percentile of no samples).
    Calls(fn(&CallStats) -> f64),
    /// A count over the whole run (not defined per window).
    RunCount(fn(&Observations) -> u64),
    /// A finite value of the whole run (not defined per window).
    Run(fn(&Observations) -> f64),
}

/// What values a metric (or a per-tenant, per-stage or alert value) can take in one
/// replication: what a shard file may carry, checked by `merge`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// A count: a whole number >= 0, never undefined.
    Count,
    /// A finite number, never undefined.
    Finite,
    /// A finite number, or undefined (NaN; an empty cell in summary.csv) when there is nothing
    /// to measure.
    MaybeUndefined,
}

impl ValueKind {
    /// Whether one replication's value can be `v`.
    pub fn admits(self, v: f64) -> bool {
        match self {
            ValueKind::Count => v.is_finite() && v >= 0.0 && v.fract() == 0.0,
            ValueKind::Finite => v.is_finite(),
            ValueKind::MaybeUndefined => v.is_finite() || v.is_nan(),
        }
    }

    /// What a value of this kind is, for messages.
    pub fn expected(self) -> &'static str {
        match self {
            ValueKind::Count => "a count (a whole number >= 0)",
            ValueKind::Finite => "a finite number",
            ValueKind::MaybeUndefined => "a finite number, or NaN where the metric is undefined",
        }
    }
}

/// One metric of the registry.
#[derive(Clone, Copy)]
pub struct MetricDef {
    pub name: &'static str,
    /// Unit of the value: `calls`, `legs`, `ratio`, `ms`, `s`, `events`.
    pub unit: &'static str,
    pub description: &'static str,
    compute: Compute,
}

impl MetricDef {
    /// Exists per named window too (`name@window`): computed from the window's own calls.
    pub fn per_window(&self) -> bool {
        !matches!(self.compute, Compute::Run(_) | Compute::RunCount(_))
    }
    /// The values one replication can give (windows too).
    pub fn kind(&self) -> ValueKind {
        match self.compute {
            Compute::Count(_) | Compute::CallsCount(_) | Compute::RunCount(_) => ValueKind::Count,
            Compute::Calls(_) => ValueKind::MaybeUndefined,
            Compute::Run(_) => ValueKind::Finite,
        }
    }
    /// The value for one replication's totals.
    pub fn of_run(&self, o: &Observations) -> f64 {
        match self.compute {
            Compute::Run(f) => f(o),
            Compute::RunCount(f) => f(o) as f64,
            _ => self.of_calls(&o.totals()),
        }
    }
    fn of_calls(&self, c: &CallStats) -> f64 {
        match self.compute {
            Compute::Count(i) => c.counts.fields()[i].1 as f64,
            Compute::CallsCount(f) => f(c) as f64,
            Compute::Calls(f) => f(c),
            Compute::Run(_) | Compute::RunCount(_) => f64::NAN,
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

/// The percentile statistics every delay metric reports, everywhere: (suffix, quantile), with
/// the quantile 1.0 meaning the maximum.
pub const DELAY_STATS: &[(&str, f64)] = &[
    ("p50", 0.50),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
    ("max", 1.0),
];

fn delay_stat(h: &DelayHist, q: f64) -> f64 {
    if q >= 1.0 {
        h.max_ms()
    } else {
        h.quantile_ms(q)
    }
}

/// Defines the delay metrics of one histogram: mean and each of `DELAY_STATS`.
macro_rules! delay_metrics {
    ($v:ident, $hist:ident, $base:literal, $what:literal) => {{
        $v.push(MetricDef {
            name: concat!($base, "_mean"),
            unit: "ms",
            description: concat!("Mean ", $what, "."),
            compute: Compute::Calls(|c| c.$hist.mean_ms()),
        });
        let stats: [(&'static str, fn(&CallStats) -> f64, &'static str); 5] = [
            (
                concat!($base, "_p50"),
                |c| delay_stat(c.$hist, 0.50),
                concat!("Median ", $what, "."),
            ),
            (
                concat!($base, "_p90"),
                |c| delay_stat(c.$hist, 0.90),
                concat!("90th percentile of ", $what, "."),
            ),
            (
                concat!($base, "_p95"),
                |c| delay_stat(c.$hist, 0.95),
                concat!("95th percentile of ", $what, "."),
            ),
            (
                concat!($base, "_p99"),
                |c| delay_stat(c.$hist, 0.99),
                concat!("99th percentile of ", $what, "."),
            ),
            (
                concat!($base, "_max"),
                |c| delay_stat(c.$hist, 1.0),
                concat!("Largest ", $what, "."),
            ),
        ];
        for (name, f, description) in stats {
            $v.push(MetricDef {
                name,
                unit: "ms",
                description,
                compute: Compute::Calls(f),
            });
        }
    }};
}

/// (name, unit, description, computation) of a metric over call-level observations.
type CallMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&CallStats) -> f64,
);

/// Every metric, in the fixed order of the summary CSV's columns.
pub fn registry() -> &'static [MetricDef] {
    static R: OnceLock<Vec<MetricDef>> = OnceLock::new();
    R.get_or_init(build_registry)
}

// whole: the registry is one list in the order of the output columns; split, that order would
// be spread over functions.
fn build_registry() -> Vec<MetricDef> {
    let mut v: Vec<MetricDef> = Counts::DOCS
        .iter()
        .enumerate()
        .map(|(i, (name, description))| MetricDef {
            name,
            unit: if name.starts_with("legs_") {
                "legs"
            } else {
                "calls"
            },
            description,
            compute: Compute::Count(i),
        })
        .collect();
    v.push(MetricDef {
        name: "abandoned",
        unit: "calls",
        description: "Calls abandoned (waiting or ringing).",
        compute: Compute::CallsCount(|c| c.counts.abandoned()),
    });
    let calls: [CallMetric; 6] = [
        ("connect_ratio", "ratio", "Connected / offered.", |c| {
            ratio(c.counts.connected, c.counts.offered)
        }),
        ("served_ratio", "ratio", "Requests served / offered.", |c| {
            ratio(c.counts.served, c.counts.offered)
        }),
        ("abandon_ratio", "ratio", "Abandoned / offered.", |c| {
            ratio(c.counts.abandoned(), c.counts.offered)
        }),
        ("fail_ratio", "ratio", "Failed / offered.", |c| {
            ratio(c.counts.failed, c.counts.offered)
        }),
        ("backup_ratio", "ratio", "Backup-routed / offered.", |c| {
            ratio(c.counts.backup_routed, c.counts.offered)
        }),
        (
            "legs_per_call",
            "legs",
            "Legs requested / offered calls.",
            |c| ratio(c.counts.legs_requested, c.counts.offered),
        ),
    ];
    for (name, unit, description, f) in calls {
        v.push(MetricDef {
            name,
            unit,
            description,
            compute: Compute::Calls(f),
        });
    }
    delay_metrics!(
        v,
        dial_delay,
        "dial_delay_ms",
        "the dial delay (leg requested to leg dialled, every leg)"
    );
    v.push(MetricDef {
        name: "dial_waited_ratio",
        unit: "ratio",
        description: "Legs that waited for a dial slot / legs requested: P(W > 0) of queueing theory (what `callsim validate` checks against Erlang C, Erlang A with exponential and fixed patience, M/M/c/K, M/D/1 and M/G/1). Its companion dial_delay_ms_mean is E[W | dialled]: the mean over dialled legs only (legs that left the queue unanswered are in P(W > 0) but not in that mean; with abandonment it is not E[W] over all callers).",
        compute: Compute::Calls(|c| ratio(c.counts.legs_queued, c.counts.legs_requested)),
    });
    delay_metrics!(
        v,
        pdd,
        "pdd_ms",
        "the post-dial delay (arrival to the first leg ringing)"
    );
    v.push(MetricDef {
        name: "answer_wait_s_mean",
        unit: "s",
        description: "Mean time from arrival to answer, connected calls.",
        compute: Compute::Calls(|c| c.answer_wait.mean_ms() / 1e3),
    });
    v.push(MetricDef {
        name: "abandon_wait_s_mean",
        unit: "s",
        description: "Mean time from arrival to hang-up, abandoned calls.",
        compute: Compute::Calls(|c| c.abandon_wait.mean_ms() / 1e3),
    });
    v.push(MetricDef {
        name: "backup_on_s",
        unit: "s",
        description: "Seconds of backup routing in force during the run.",
        compute: Compute::Run(|o| o.backup_on_s),
    });
    v.push(MetricDef {
        name: "events",
        unit: "events",
        description: "Events the engine handled (a measure of work, not of the system).",
        compute: Compute::RunCount(|o| o.events),
    });
    v.push(MetricDef {
        name: "calls_in_flight_max",
        unit: "calls",
        description: "Most calls (or requests) in the system at once, warm-up included: arrived and not yet concluded (in setup, queued, ringing, talking, in the platform or waiting to retry). The run's memory follows this, not the number of calls.",
        compute: Compute::RunCount(|o| o.calls_in_flight_max as u64),
    });
    v.push(MetricDef {
        name: "pending_events_max",
        unit: "events",
        description: "Most events scheduled at once (heap, arrival lanes and timer queues): the engine's other memory driver, beside calls in flight.",
        compute: Compute::RunCount(|o| o.pending_events_max as u64),
    });
    v
}

/// Whether a scenario uses a setting.
type UsesSetting = fn(&ModelConfig) -> bool;

/// Counters that only a carrier setting makes meaningful, with the test for it and whether the
/// counter is 0 by construction without it: a scenario without the setting has no such column
/// (in the summary, compare, sweep, plan, timeline and tenants files), so its outputs stay what
/// they were before the setting existed.
const OPTIONAL: &[(&str, UsesSetting, bool)] = &[
    ("legs_dialed_wasted", dials_cancelled_legs, true),
    ("legs_retried", retries_legs, true),
    // Without retries every rejected leg gives up at once: equal to `legs_rejected`.
    ("legs_gave_up", retries_legs, false),
    ("legs_cancelled_backoff", retries_legs, true),
];

fn dials_cancelled_legs(m: &ModelConfig) -> bool {
    m.any_carrier(|c| c.dials_cancelled_legs())
}

/// A carrier sets `retries` (even 0, so that a variant without retries still reports them).
fn retries_legs(m: &ModelConfig) -> bool {
    m.any_carrier(|c| c.leg_retry.is_some())
}

/// The value a scenario that does not report `name` would have had, when it is 0 by
/// construction (compare shows it for variants without the setting).
pub fn zero_when_absent(name: &str) -> bool {
    OPTIONAL.iter().any(|(n, _, zero)| *n == name && *zero)
}

/// Whether the scenario reports metric `name` (false only for an optional counter whose
/// setting no carrier uses).
pub fn shown(name: &str, m: &ModelConfig) -> bool {
    OPTIONAL
        .iter()
        .find(|(n, _, _)| *n == name)
        .is_none_or(|(_, uses, _)| uses(m))
}

/// The counters of `c` the scenario reports (see `shown`), in CSV order.
pub fn count_fields(c: &Counts, m: &ModelConfig) -> Vec<(&'static str, u64)> {
    let mut v = c.fields();
    v.retain(|(n, _)| shown(n, m));
    v
}

/// The value of registry metric `def` over call-level observations (a window's, or one timeline
/// interval's for an alert rule); NaN for a metric that exists only for the whole run.
pub fn value_of_calls(def: usize, c: &CallStats) -> f64 {
    registry()[def].of_calls(c)
}

/// Index of the registry metric called `name`.
pub fn index_of(name: &str) -> Option<usize> {
    registry().iter().position(|d| d.name == name)
}

/// One metric column of a scenario: a registry metric over the run, or over a named window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub def: usize,
    /// Index into `ModelConfig::windows`; None: the run's totals.
    pub window: Option<usize>,
    /// `dial_delay_ms_p95` or `dial_delay_ms_p95@peak`.
    pub name: String,
}

impl Column {
    pub fn def(&self) -> &'static MetricDef {
        &registry()[self.def]
    }
}

/// The metric columns of a scenario, in output order: every registry metric over the run,
/// then every per-window metric for each window in turn.
pub fn columns(cfg: &ModelConfig) -> Vec<Column> {
    let r = registry();
    let mut out: Vec<Column> = (0..r.len())
        .filter(|&i| shown(r[i].name, cfg))
        .map(|i| Column {
            def: i,
            window: None,
            name: r[i].name.to_string(),
        })
        .collect();
    for (w, win) in cfg.windows.iter().enumerate() {
        for (i, d) in r
            .iter()
            .enumerate()
            .filter(|(_, d)| d.per_window() && shown(d.name, cfg))
        {
            out.push(Column {
                def: i,
                window: Some(w),
                name: format!("{}@{}", d.name, win.name),
            });
        }
    }
    out
}

/// One replication's value of each column.
pub fn values(cols: &[Column], o: &Observations) -> Vec<f64> {
    cols.iter()
        .map(|c| match c.window {
            None => c.def().of_run(o),
            Some(w) => c.def().of_calls(&o.windows[w].view()),
        })
        .collect()
}

/// One replication's metric values, aligned with a list of column names: what summary.csv
/// rows, compare, sweep and plan aggregate, and what a shard file carries.
#[derive(Clone, Debug, PartialEq)]
pub struct RepValues {
    pub replication: u32,
    pub values: Vec<f64>,
}

/// Mean and 95% interval of column `j` over replications.
pub fn estimate_column(rows: &[RepValues], j: usize, level: f64) -> crate::stats::Estimate {
    let v: Vec<f64> = rows.iter().map(|r| r.values[j]).collect();
    crate::stats::estimate(&v, level)
}

/// Resolves a metric name (`abandon_ratio`, `dial_delay_ms_p95@peak`, or a per-tenant/stage
/// name among `extra`) against a scenario's columns; unknown names get a "did you mean".
pub fn lookup(name: &str, cols: &[Column], extra: &[String]) -> Result<String, String> {
    let name = name.trim();
    if cols.iter().any(|c| c.name == name) || extra.iter().any(|e| e == name) {
        return Ok(name.to_string());
    }
    if let Some((base, win)) = name.split_once('@') {
        if index_of(base).is_none() {
            return Err(unknown(base, cols, extra));
        }
        let windows: Vec<&str> = cols
            .iter()
            .filter_map(|c| c.name.split_once('@').map(|(_, w)| w))
            .fold(Vec::new(), |mut v, w| {
                if !v.contains(&w) {
                    v.push(w);
                }
                v
            });
        if !windows.contains(&win) {
            return Err(if windows.is_empty() {
                format!("unknown window `{win}` in metric `{name}`: the scenario defines no windows; add [windows] {win} = [\"10:00\", \"12:00\"] or --window {win}=10:00-12:00")
            } else {
                format!(
                    "unknown window `{win}` in metric `{name}`; the windows are: {}",
                    windows.join(", ")
                )
            });
        }
        return Err(format!(
            "metric `{base}` is a property of the whole run and has no per-window value"
        ));
    }
    Err(unknown(name, cols, extra))
}

fn unknown(name: &str, cols: &[Column], extra: &[String]) -> String {
    let all = cols
        .iter()
        .map(|c| c.name.as_str())
        .chain(extra.iter().map(String::as_str));
    let hint = all
        .clone()
        .find(|c| crate::scenario::reader::close(name, c))
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    format!(
        "unknown metric `{name}`{hint}; `callsim metrics` lists them (e.g. abandon_ratio, dial_delay_ms_p95, connected)"
    )
}

/// The registry as a Markdown table (`callsim metrics --markdown`, and docs/outputs.md, which
/// a test keeps equal to it).
pub fn markdown_table() -> String {
    let mut s = String::from("| metric | unit | per window | meaning |\n|---|---|---|---|\n");
    for d in registry() {
        s += &format!(
            "| `{}` | {} | {} | {} |\n",
            d.name,
            d.unit,
            if d.per_window() { "yes" } else { "no" },
            d.description.trim().replace("\n", " ")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_units_last() {
        let r = registry();
        for (i, d) in r.iter().enumerate() {
            assert!(
                r[..i].iter().all(|e| e.name != d.name),
                "duplicate {}",
                d.name
            );
            if d.unit == "ms" {
                assert!(d.name.starts_with("dial_delay_ms") || d.name.starts_with("pdd_ms"));
            }
        }
        // Every delay metric carries the same statistics.
        for base in ["dial_delay_ms", "pdd_ms"] {
            for (suffix, _) in DELAY_STATS {
                assert!(
                    index_of(&format!("{base}_{suffix}")).is_some(),
                    "{base}_{suffix}"
                );
            }
        }
    }

    /// docs/outputs.md carries the registry's table between markers; re-bless with
    /// `CALLSIM_BLESS=1 cargo test --lib metrics`.
    #[test]
    fn docs_list_every_metric() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/outputs.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let (a, b) = (
            "<!-- metrics-table:start -->\n",
            "<!-- metrics-table:end -->",
        );
        let i = doc.find(a).expect("start marker") + a.len();
        let j = doc.find(b).expect("end marker");
        if std::env::var("CALLSIM_BLESS").is_ok_and(|v| v == "1") {
            let new = format!("{}{}{}", &doc[..i], markdown_table(), &doc[j..]);
            std::fs::write(&path, new).unwrap();
            return;
        }
        assert_eq!(
            &doc[i..j],
            markdown_table(),
            "docs/outputs.md's metric table is stale; re-bless"
        );
    }

    #[test]
    fn lookup_says_what_is_wrong() {
        let cols: Vec<Column> = (0..registry().len())
            .map(|i| Column {
                def: i,
                window: None,
                name: registry()[i].name.to_string(),
            })
            .collect();
        assert_eq!(
            lookup("abandon_ratio", &cols, &[]).unwrap(),
            "abandon_ratio"
        );
        let e = lookup("abandon_ration", &cols, &[]).unwrap_err();
        assert!(e.contains("did you mean `abandon_ratio`"), "{e}");
        let e = lookup("abandon_ratio@peak", &cols, &[]).unwrap_err();
        assert!(e.contains("defines no windows"), "{e}");
        let e = lookup("dial_delay_ms_p97", &cols, &[]).unwrap_err();
        assert!(e.contains("unknown metric"), "{e}");
    }
}
