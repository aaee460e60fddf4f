//! `callsim compare`: run variants of one scenario with common random numbers (same seed, same
//! replication indices, so every caller draws the same arrival and patience in each variant) and
//! report each variant and its paired difference from the first with a 95% CI.

use super::run::fmt_num;
use super::settings::Settings;
use super::work::{evaluate_or_shard, Manifest};
use super::{CliError, CommonArgs};
use crate::batch::{by_config, Config, UnitValues};
use crate::export::{num, OutputFiles};
use crate::metrics::RepValues;
use crate::stats::{estimate, paired_difference};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = super::COMPARE_EXAMPLES)]
pub struct CompareArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Variants to compare, the first being the baseline (default: all, in file order).
    #[arg(long = "variant")]
    pub variants: Vec<String>,
    /// Write compare.csv into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The metrics compare reports, in order (and, for each named window, those with a
/// per-window value, suffixed `@window`).
pub const COMPARE_METRICS: &[&str] = &[
    "offered",
    "connected",
    "abandoned",
    "abandoned_waiting",
    "abandoned_ringing",
    "no_answer",
    "failed",
    "redials",
    "backup_routed",
    "connect_ratio",
    "abandon_ratio",
    "legs_dialed",
    "dial_delay_ms_p50",
    "dial_delay_ms_p90",
    "dial_delay_ms_p95",
    "dial_delay_ms_p99",
    "dial_delay_ms_max",
    "pdd_ms_p50",
    "pdd_ms_p90",
    "pdd_ms_p95",
    "pdd_ms_p99",
    "pdd_ms_max",
    "answer_wait_s_mean",
    "backup_on_s",
];

/// A validated compare: the variants' configurations and what to report.
pub struct CompareJob {
    pub settings: Settings,
    pub configs: Vec<Config>,
    pub seed: u64,
    pub reps: u32,
    /// Metric rows, in order: the totals, per window, then per tenant and stage.
    pub rows: Vec<String>,
    pub path: PathBuf,
}

/// Loads every variant (all validated before anything runs) and lists the metric rows.
pub fn prepare(a: &CompareArgs) -> Result<CompareJob, CliError> {
    let settings = Settings::new(&a.common)?;
    let base = settings.load(None, false)?;
    let names: Vec<String> = if a.variants.is_empty() {
        base.variants.clone()
    } else {
        a.variants.clone()
    };
    if let Some((i, v)) = names
        .iter()
        .enumerate()
        .find(|(i, v)| names[..*i].contains(v))
    {
        return Err(CliError::input(format!(
            "--variant `{v}` is given twice (as the {} and the {} variant): a variant compared with itself tells nothing",
            ordinal(names.iter().position(|x| x == v).expect("found") + 1),
            ordinal(i + 1)
        )));
    }
    if names.is_empty() {
        return Err(CliError::input(format!(
            "{}: the scenario defines no [variants.NAME] tables; add some or name them with --variant",
            a.common.scenario.display()
        )));
    }
    let mut configs = Vec::new();
    for v in &names {
        configs.push(Config {
            label: v.clone(),
            scenario: settings.load(Some(v), false)?,
        });
    }
    let mut rows: Vec<String> = COMPARE_METRICS.iter().map(|m| m.to_string()).collect();
    // The carrier settings' metrics, after `legs_dialed`, when some variant reports them.
    let shown = |gate: &str| {
        configs
            .iter()
            .any(|c| crate::metrics::shown(gate, &c.scenario.model))
    };
    let at = rows
        .iter()
        .position(|m| m == "legs_dialed")
        .expect("listed")
        + 1;
    let extra: Vec<String> = super::run::CARRIER_ROWS
        .iter()
        .filter(|(gate, _, _)| shown(gate))
        .map(|(_, m, _)| m.to_string())
        .collect();
    rows.splice(at..at, extra);
    for w in &base.model.windows {
        for m in COMPARE_METRICS {
            let d = &crate::metrics::registry()[crate::metrics::index_of(m).expect("registry")];
            if d.per_window() {
                rows.push(format!("{m}@{}", w.name));
            }
        }
    }
    for c in &configs {
        for n in crate::stats::detail_names(&c.scenario.model) {
            if !rows.contains(&n) {
                rows.push(n);
            }
        }
    }
    for c in &configs {
        for n in crate::alerts::value_names(&c.scenario.model.alerts) {
            if !rows.contains(&n) {
                rows.push(n);
            }
        }
    }
    Ok(CompareJob {
        settings,
        seed: base.seed,
        reps: base.replications,
        configs,
        rows,
        path: base.path.clone(),
    })
}

pub fn run(a: CompareArgs, argv: &[String]) -> Result<(), CliError> {
    let job = prepare(&a)?;
    crate::sayln!(
        "seed {}  replications {}  scenario {}  (common random numbers across variants)",
        job.seed,
        job.reps,
        job.path.display()
    );
    let units = evaluate_or_shard(
        &job.configs,
        &job.settings,
        job.seed,
        job.reps,
        a.out.as_deref(),
        argv,
        "compare",
    )?;
    match units {
        Some(u) => render(&a, &job, u, &super::result_args(argv)),
        None => Ok(()),
    }
}

/// Prints the comparison and writes compare.csv (and manifest.json): the same bytes whether
/// the units ran here or came from shards.
pub fn render(
    a: &CompareArgs,
    job: &CompareJob,
    units: Vec<UnitValues>,
    args: &[String],
) -> Result<(), CliError> {
    let per_variant = by_config(job.configs.len(), units);
    let names: Vec<Vec<String>> = job.configs.iter().map(Config::names).collect();
    let col = |vi: usize, name: &str| -> Vec<f64> {
        let j = names[vi].iter().position(|n| n == name);
        // A carrier counter another variant's setting adds is 0 where the setting is off.
        let absent = if crate::metrics::zero_when_absent(name) {
            0.0
        } else {
            f64::NAN
        };
        per_variant[vi]
            .iter()
            .map(|r: &RepValues| j.map_or(absent, |j| r.values[j]))
            .collect()
    };
    let labels: Vec<&str> = job.configs.iter().map(|c| c.label.as_str()).collect();
    let width = labels.iter().map(|l| l.len()).max().unwrap_or(8).max(8);
    crate::sayln!(
        "mean [95% CI]; for variants after the first, the paired difference from `{}` [95% CI]",
        labels[0]
    );
    let mut rows_csv: Vec<Vec<String>> = Vec::new();
    for m in &job.rows {
        // Alert values get their own section (time to detect), below.
        let show = !m.starts_with("alert_");
        if show {
            crate::sayln!("{m}");
        }
        let basev = col(0, m);
        for (vi, v) in labels.iter().enumerate() {
            let vals = col(vi, m);
            let e = estimate(&vals, 0.95);
            let mut line = format!(
                "  {:<width$} {:>12} [{}, {}]",
                v,
                fmt_num(e.mean),
                fmt_num(e.low()),
                fmt_num(e.high())
            );
            let d = paired_difference(&basev, &vals, 0.95);
            if vi > 0 {
                let sign = if d.mean > 0.0 { "+" } else { "" };
                line += &format!(
                    "   diff {sign}{} [{}, {}]",
                    fmt_num(d.mean),
                    fmt_num(d.low()),
                    fmt_num(d.high())
                );
            }
            if show {
                crate::sayln!("{line}");
            }
            let diff = |x: f64| if vi > 0 { num(x) } else { "0".into() };
            rows_csv.push(vec![
                m.clone(),
                v.to_string(),
                labels[0].to_string(),
                e.n.to_string(),
                num(e.mean),
                num(e.low()),
                num(e.high()),
                diff(d.mean),
                diff(d.low()),
                diff(d.high()),
            ]);
        }
    }
    crate::cli::say(&time_to_detect(job, &labels, &col));
    let Some(out) = &a.out else {
        return Ok(());
    };
    let mut f = OutputFiles::new(out).map_err(CliError::input)?;
    write_compare_csv(&mut f, &rows_csv)?;
    let mut m = Manifest::new(
        "compare",
        args,
        out,
        &job.configs[0].scenario,
        &job.settings,
    )?;
    m.variant = None;
    m.variants = labels.iter().map(|l| l.to_string()).collect();
    m.write(&mut f)?;
    f.commit().map_err(CliError::failure)?;
    crate::sayln!("wrote compare.csv in {}", out.display());
    Ok(())
}

/// Per alert rule and variant: in how many replications it fired, and the time to detect
/// (seconds from the start to its first firing; clock time) with its 95% CI over the
/// replications where it fired; for later variants, the paired difference from the first over
/// the replications where both fired. Replications where it never fired are censored: left out
/// of the mean and counted in `fired k/n`.
fn time_to_detect(
    job: &CompareJob,
    labels: &[&str],
    col: &dyn Fn(usize, &str) -> Vec<f64>,
) -> String {
    let mut rules: Vec<&crate::alerts::AlertRule> = Vec::new();
    for c in &job.configs {
        for r in &c.scenario.model.alerts {
            if !rules.iter().any(|x| x.name == r.name) {
                rules.push(r);
            }
        }
    }
    if rules.is_empty() {
        return String::new();
    }
    let start = job.configs[0].scenario.model.start;
    let interval = job.configs[0].scenario.model.interval;
    let width = labels.iter().map(|l| l.len()).max().unwrap_or(8).max(8);
    let mut s = String::from("time to detect: first firing of each alert rule, seconds from the start (clock time), mean [95% CI] over the replications where it fired; never-fired replications are left out and counted\n");
    for r in rules {
        s += &format!("{}  ({})\n", r.name, r.describe(interval));
        let key = format!("alert_first_fired_s[{}]", r.name);
        let base = col(0, &key);
        for (vi, v) in labels.iter().enumerate() {
            let fired = col(vi, &format!("alert_fired[{}]", r.name));
            let n_fired = fired.iter().filter(|x| **x == 1.0).count();
            let vals = col(vi, &key);
            let e = estimate(&vals, 0.95);
            s += &format!("  {v:<width$} fired {n_fired}/{}", fired.len());
            if n_fired > 0 {
                s += &format!(
                    "  {} [{}, {}] s  ({} [{}, {}])",
                    fmt_num(e.mean),
                    fmt_num(e.low()),
                    fmt_num(e.high()),
                    super::run::offset_clock(start, e.mean),
                    super::run::offset_clock(start, e.low()),
                    super::run::offset_clock(start, e.high())
                );
            }
            let d = paired_difference(&base, &vals, 0.95);
            if vi > 0 && d.n > 0 {
                let sign = if d.mean > 0.0 { "+" } else { "" };
                s += &format!(
                    "   diff {sign}{} [{}, {}] s over {} replications where both fired",
                    fmt_num(d.mean),
                    fmt_num(d.low()),
                    fmt_num(d.high()),
                    d.n
                );
            }
            s += "\n";
        }
    }
    s
}

fn write_compare_csv(f: &mut OutputFiles, rows: &[Vec<String>]) -> Result<(), CliError> {
    let w = f.create("compare.csv").map_err(CliError::failure)?;
    let mut wr = csv::Writer::from_writer(w);
    let write = (|| -> Result<(), csv::Error> {
        wr.write_record([
            "metric",
            "variant",
            "baseline",
            "replications",
            "mean",
            "ci95_low",
            "ci95_high",
            "diff_mean",
            "diff_ci95_low",
            "diff_ci95_high",
        ])?;
        for r in rows {
            wr.write_record(r)?;
        }
        wr.flush()?;
        Ok(())
    })();
    write.map_err(|e| CliError::failure(format!("writing compare.csv: {e}")))
}

/// "1st", "2nd", "3rd", "4th", ...
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_compare_metric_is_in_the_registry() {
        for m in super::COMPARE_METRICS {
            assert!(
                crate::metrics::index_of(m).is_some(),
                "`{m}` is not a metric"
            );
        }
    }
}
