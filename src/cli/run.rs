//! `callsim run`: run one scenario (optionally one variant of it), print the summary, and write
//! CSV with --out.

use super::{CliError, CommonArgs};
use crate::export::{concat_parts, write_summary, write_timeline, CallsCsvSink, OutputFiles};
use crate::model::CallSink;
use crate::run::{run_replications, ReplicationResult, RunOptions};
use crate::scenario::{load, Scenario};
use crate::stats::estimate;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
#[command(after_help = super::RUN_EXAMPLES)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Run this variant of the scenario (see `callsim check`).
    #[arg(long)]
    pub variant: Option<String>,
    /// Write summary.csv and timeline.csv (and calls.csv with --calls-csv) into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also write calls.csv, one row per call (memory stays flat: rows are streamed to disk).
    #[arg(long, requires = "out")]
    pub calls_csv: bool,
}

/// Loads the scenario with the common flags applied.
pub fn load_common(c: &CommonArgs, variant: Option<&str>) -> Result<Scenario, CliError> {
    let mut sc = load(&c.scenario, variant, &c.all_sets()?)?;
    if let Some(s) = c.seed {
        sc.seed = s;
    }
    if let Some(n) = c.replications {
        sc.replications = n;
    }
    Ok(sc)
}

pub fn run(a: RunArgs, argv: &[String]) -> Result<(), CliError> {
    let sc = load_common(&a.common, a.variant.as_deref())?;
    if a.common.shard.is_some() {
        return Err(CliError::input(
            "run --shard is not supported yet: shard a `compare` or `sweep` instead (their shards merge exactly)",
        ));
    }
    let variant = sc.variant.clone().unwrap_or_else(|| "base".into());
    let mut files = match &a.out {
        Some(d) => Some(OutputFiles::new(d).map_err(CliError::input)?),
        None => None,
    };
    let opts = RunOptions {
        seed: sc.seed,
        replications: sc.replications,
        threads: a.common.threads,
        progress: !a.common.quiet,
        label: sc.name.clone(),
        timeline: a.out.is_some(),
    };
    crate::sayln!(
        "seed {}  replications {}  scenario {}{}",
        sc.seed,
        sc.replications,
        sc.path.display(),
        variant_note(&sc)
    );
    let parts: Vec<PathBuf> = match (&files, a.calls_csv) {
        (Some(f), true) => (0..sc.replications)
            .map(|r| f.scratch_path(&format!("calls-{r}.csv")))
            .collect(),
        _ => Vec::new(),
    };
    let source_names: Vec<String> = sc.model.sources.iter().map(|s| s.name.clone()).collect();
    let sinks = |rep: u32| -> Result<Option<Box<dyn CallSink + Send>>, String> {
        match parts.get(rep as usize) {
            Some(p) => Ok(Some(Box::new(CallsCsvSink::create(
                p,
                &variant,
                rep,
                source_names.clone(),
            )?))),
            None => Ok(None),
        }
    };
    let wall = Instant::now();
    let result = run_replications(&sc, &opts, &sinks);
    let wall_s = wall.elapsed().as_secs_f64();
    let results = match result {
        Ok(r) => r,
        Err(e) => {
            for p in &parts {
                let _ = std::fs::remove_file(p);
            }
            return Err(CliError::failure(e));
        }
    };
    crate::cli::say(&summary_text(&sc, &results, wall_s));
    if let Some(f) = files.as_mut() {
        let written = (|| -> Result<(), String> {
            let cols = crate::metrics::columns(&sc.model);
            let names: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
            let rows: Vec<crate::metrics::RepValues> = results
                .iter()
                .map(|r| crate::metrics::RepValues {
                    replication: r.replication,
                    values: crate::metrics::values(&cols, &r.obs),
                })
                .collect();
            write_summary(f.create("summary.csv")?, &names, &rows, sc.seed, &variant)?;
            write_timeline(
                f.create("timeline.csv")?,
                &results,
                &variant,
                sc.model.start.as_ns(),
                sc.model.interval.as_ns(),
            )?;
            if a.calls_csv {
                concat_parts(f.create("calls.csv")?, &parts)?;
            }
            let m = &sc.model;
            if m.sources.len() > 1 || !m.stages.is_empty() {
                let (t, tl) = (f.create("tenants.csv")?, f.create("tenants_timeline.csv")?);
                crate::export::write_tenants(t, tl, &results, m, &variant)?;
            }
            if !m.stages.is_empty() {
                let (t, tl) = (f.create("stages.csv")?, f.create("stages_timeline.csv")?);
                crate::export::write_stages(t, tl, &results, m, &variant)?;
            }
            Ok(())
        })()
        .map_err(CliError::failure)
        .and_then(|()| {
            let args = super::result_args(argv);
            super::work::Manifest::new("run", &args, f.dir(), &sc, &a.common)?.write(f)
        });
        if let Err(e) = written {
            for p in &parts {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
    }
    if let Some(f) = files {
        let dir = f.dir().to_path_buf();
        let paths = f.commit().map_err(CliError::failure)?;
        let names: Vec<String> = paths
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        crate::sayln!("wrote {} in {}", names.join(", "), dir.display());
    }
    Ok(())
}

fn variant_note(sc: &Scenario) -> String {
    match &sc.variant {
        Some(v) => format!(" (variant {v})"),
        None => String::new(),
    }
}

/// Rows of the terminal summary: (metric, label). Every name is in the registry (a test
/// checks), so a typo cannot print "-" silently.
pub const SUMMARY_ROWS: &[(&str, &str)] = &[
    ("offered", "offered (calls or requests, with redials)"),
    ("redials", "  of which redials"),
    ("connected", "connected"),
    ("served", "requests served"),
    ("retries", "client retries"),
    ("abandoned_waiting", "abandoned before any leg rang"),
    ("abandoned_ringing", "abandoned after a leg rang"),
    ("no_answer", "no answer"),
    ("failed", "failed (carrier or platform)"),
    ("unfinished", "unfinished at the drain limit"),
    ("backup_routed", "backup-routed (untracked, unrecorded)"),
    ("abandon_ratio", "abandoned / offered"),
    ("legs_requested", "legs requested"),
    ("legs_dialed", "legs dialled"),
    ("dial_delay_ms_p50", "dial delay p50 (ms)"),
    ("dial_delay_ms_p90", "dial delay p90 (ms)"),
    ("dial_delay_ms_p95", "dial delay p95 (ms)"),
    ("dial_delay_ms_p99", "dial delay p99 (ms)"),
    ("dial_delay_ms_max", "dial delay max (ms)"),
    ("pdd_ms_p50", "post-dial delay p50 (ms)"),
    ("pdd_ms_p90", "post-dial delay p90 (ms)"),
    ("pdd_ms_p95", "post-dial delay p95 (ms)"),
    ("pdd_ms_p99", "post-dial delay p99 (ms)"),
    ("pdd_ms_max", "post-dial delay max (ms)"),
];

/// Rows shown per named window in the terminal summary.
pub const WINDOW_ROWS: &[(&str, &str)] = &[
    ("offered", "offered"),
    ("connected", "connected"),
    ("abandoned", "abandoned"),
    ("abandon_ratio", "abandoned / offered"),
    ("dial_delay_ms_p50", "dial delay p50 (ms)"),
    ("dial_delay_ms_p90", "dial delay p90 (ms)"),
    ("dial_delay_ms_p95", "dial delay p95 (ms)"),
    ("dial_delay_ms_p99", "dial delay p99 (ms)"),
    ("dial_delay_ms_max", "dial delay max (ms)"),
    ("pdd_ms_p95", "post-dial delay p95 (ms)"),
];

/// One line of the summary: label, mean and CI.
fn summary_line(label: &str, values: &[f64]) -> String {
    let e = estimate(values, 0.95);
    let ci = if e.half_width.is_nan() {
        String::new()
    } else {
        format!("[{}, {}]", fmt_num(e.low()), fmt_num(e.high()))
    };
    format!("  {:<38} {:>14}  {}\n", label, fmt_num(e.mean), ci)
}

/// The terminal summary: key metrics with 95% CIs over replications (per window too), per
/// tenant and stage where the scenario has them, and engine speed.
pub fn summary_text(sc: &Scenario, results: &[ReplicationResult], wall_s: f64) -> String {
    let cols = crate::metrics::columns(&sc.model);
    let rows: Vec<Vec<f64>> = results
        .iter()
        .map(|r| crate::metrics::values(&cols, &r.obs))
        .collect();
    let n = results.len();
    let col = |name: &str| -> Vec<f64> {
        let j = cols
            .iter()
            .position(|c| c.name == name)
            .unwrap_or_else(|| panic!("summary row `{name}` is not a metric"));
        rows.iter().map(|m| m[j]).collect()
    };
    let mut s = format!("{}\n", sc.name);
    let ci_head = if n > 1 {
        format!("95% CI ({n} replications)")
    } else {
        "(1 replication: no CI)".into()
    };
    s += &format!("  {:<38} {:>14}  {}\n", "metric", "mean", ci_head);
    for (key, label) in SUMMARY_ROWS {
        s += &summary_line(label, &col(key));
    }
    for w in &sc.model.windows {
        s += &format!(
            "  calls arriving in window `{}` ({}-{}):\n",
            w.name,
            w.start.clock_hhmmss(),
            w.end.clock_hhmmss()
        );
        for (key, label) in WINDOW_ROWS {
            s += &summary_line(&format!("  {label}"), &col(&format!("{key}@{}", w.name)));
        }
    }
    // Per tenant (source) and per stage, when the scenario has several or a platform.
    let details: Vec<Vec<(String, f64)>> = results
        .iter()
        .map(|r| crate::stats::detail_metrics(&r.obs, &sc.model))
        .collect();
    if let Some(first) = details.first().filter(|d| !d.is_empty()) {
        s += "  per tenant and stage:\n";
        for (j, (name, _)) in first.iter().enumerate() {
            s += &summary_line(name, &details.iter().map(|d| d[j].1).collect::<Vec<_>>());
        }
    }
    let events: u64 = results.iter().map(|r| r.obs.events).sum();
    let calls: u64 = results.iter().map(|r| r.obs.counts.offered).sum();
    let cpu_s: f64 = results.iter().map(|r| r.wall_s).sum();
    s += &format!(
        "  events {events} in {wall_s:.2} s wall ({cpu_s:.2} s in replications): {:.2} M events/s, {:.2} M calls/s per thread\n",
        events as f64 / cpu_s.max(1e-9) / 1e6,
        calls as f64 / cpu_s.max(1e-9) / 1e6
    );
    s
}

pub fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.abs() >= 1000.0 || x == x.trunc() {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_summary_row_is_a_registry_metric() {
        for (k, _) in SUMMARY_ROWS.iter().chain(WINDOW_ROWS) {
            assert!(
                crate::metrics::index_of(k).is_some(),
                "`{k}` is not a metric"
            );
        }
        for (k, _) in WINDOW_ROWS {
            let d = &crate::metrics::registry()[crate::metrics::index_of(k).unwrap()];
            assert!(d.per_window(), "`{k}` has no per-window value");
        }
    }
}
