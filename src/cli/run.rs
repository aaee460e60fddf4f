//! `callsim run`: run one scenario (optionally one variant of it), print the summary, and write
//! CSV with --out.

use super::{CliError, CommonArgs};
use crate::batch::{
    all_units, file_sha256, write_shard, Config, Shard, ShardHeader, Unit, UnitValues, SHARD_FORMAT,
};
use crate::export::{concat_parts, write_summary, write_timeline, CallsCsvSink, OutputFiles};
use crate::metrics::RepValues;
use crate::model::CallSink;
use crate::run::{run_listed, ReplicationResult, RunOptions};
use crate::scenario::{load, Scenario};
use crate::stats::{detail_metrics, estimate};
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
    let variant = sc.variant.clone().unwrap_or_else(|| "base".into());
    let shard = match &a.common.shard {
        Some(spec) => Some(Shard::parse(spec).map_err(CliError::input)?),
        None => None,
    };
    let mut files = match (&a.out, shard) {
        (Some(d), None) => Some(OutputFiles::new(d).map_err(CliError::input)?),
        (Some(d), Some(_)) => Some(OutputFiles::shared(d).map_err(CliError::input)?),
        (None, _) => None,
    };
    let reps: Vec<u32> = match shard {
        Some(sh) => sh
            .select(&all_units(1, sc.replications))
            .iter()
            .map(|u| u.replication)
            .collect(),
        None => (0..sc.replications).collect(),
    };
    let opts = RunOptions {
        seed: sc.seed,
        replications: reps.len() as u32,
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
    let parts: Vec<PathBuf> = match (&mut files, a.calls_csv) {
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
    let result = run_listed(&sc, &opts, &reps, &sinks);
    let wall_s = wall.elapsed().as_secs_f64();
    let results = match result {
        Ok(r) => r,
        Err(e) => {
            remove_parts(&parts);
            return Err(CliError::failure(e));
        }
    };
    if shard.is_none() {
        crate::cli::say(&summary_text(&sc, &results, wall_s));
    }
    if let Some(f) = files.as_mut() {
        let written = match shard {
            Some(sh) => {
                write_shard_files(f, sh, &sc, &variant, &results, &parts, a.calls_csv, argv)
            }
            None => write_run_files(
                f,
                &sc,
                &variant,
                &results,
                &parts,
                a.calls_csv,
                argv,
                &a.common,
            ),
        };
        if let Err(e) = written {
            remove_parts(&parts);
            return Err(e);
        }
    }
    remove_parts(&parts);
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

fn remove_parts(parts: &[PathBuf]) {
    for p in parts {
        let _ = std::fs::remove_file(p);
    }
}

/// Each replication's metric values, by column.
fn rep_values(sc: &Scenario, results: &[ReplicationResult]) -> (Vec<String>, Vec<RepValues>) {
    let cols = crate::metrics::columns(&sc.model);
    let names: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
    let rows = results
        .iter()
        .map(|r| RepValues {
            replication: r.replication,
            values: crate::metrics::values(&cols, &r.obs),
        })
        .collect();
    (names, rows)
}

/// The files of one row per replication and something (interval, call, source, stage), in the
/// order `run` writes them: a shard writes its replications' rows, and `merge` joins them.
pub fn row_files(sc: &Scenario, calls_csv: bool) -> Vec<&'static str> {
    let m = &sc.model;
    let mut v = vec!["timeline.csv"];
    if calls_csv {
        v.push("calls.csv");
    }
    if m.sources.len() > 1 || !m.stages.is_empty() {
        v.extend(["tenants.csv", "tenants_timeline.csv"]);
    }
    if !m.stages.is_empty() {
        v.extend(["stages.csv", "stages_timeline.csv"]);
    }
    v
}

/// Writes the row files, each named `prefix` + its name.
#[allow(clippy::too_many_arguments)]
fn write_row_files(
    f: &mut OutputFiles,
    prefix: &str,
    sc: &Scenario,
    variant: &str,
    results: &[ReplicationResult],
    parts: &[PathBuf],
    calls_csv: bool,
) -> Result<(), String> {
    let m = &sc.model;
    let name = |n: &str| format!("{prefix}{n}");
    write_timeline(
        f.create(&name("timeline.csv"))?,
        results,
        variant,
        m.start.as_ns(),
        m.interval.as_ns(),
    )?;
    if calls_csv {
        let mine: Vec<PathBuf> = results
            .iter()
            .map(|r| parts[r.replication as usize].clone())
            .collect();
        concat_parts(f.create(&name("calls.csv"))?, &mine)?;
    }
    if m.sources.len() > 1 || !m.stages.is_empty() {
        let (t, tl) = (
            f.create(&name("tenants.csv"))?,
            f.create(&name("tenants_timeline.csv"))?,
        );
        crate::export::write_tenants(t, tl, results, m, variant)?;
    }
    if !m.stages.is_empty() {
        let (t, tl) = (
            f.create(&name("stages.csv"))?,
            f.create(&name("stages_timeline.csv"))?,
        );
        crate::export::write_stages(t, tl, results, m, variant)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_run_files(
    f: &mut OutputFiles,
    sc: &Scenario,
    variant: &str,
    results: &[ReplicationResult],
    parts: &[PathBuf],
    calls_csv: bool,
    argv: &[String],
    common: &CommonArgs,
) -> Result<(), CliError> {
    let (names, rows) = rep_values(sc, results);
    let summary = f.create("summary.csv").map_err(CliError::failure)?;
    write_summary(summary, &names, &rows, sc.seed, variant).map_err(CliError::failure)?;
    write_row_files(f, "", sc, variant, results, parts, calls_csv).map_err(CliError::failure)?;
    let args = super::result_args(argv);
    let dir = f.dir().to_path_buf();
    super::work::Manifest::new("run", &args, &dir, sc, common)?.write(f)
}

/// A shard of a run: its replications' metric values (`shard-I-of-N.csv`) and rows of every
/// row file (`shard-I-of-N.timeline.csv`, ...).
#[allow(clippy::too_many_arguments)]
fn write_shard_files(
    f: &mut OutputFiles,
    sh: Shard,
    sc: &Scenario,
    variant: &str,
    results: &[ReplicationResult],
    parts: &[PathBuf],
    calls_csv: bool,
    argv: &[String],
) -> Result<(), CliError> {
    // The same values as a compare or sweep unit: registry columns, then per tenant and stage.
    let (_, rows) = rep_values(sc, results);
    let configs = [Config {
        label: variant.to_string(),
        scenario: sc.clone(),
    }];
    let units: Vec<UnitValues> = rows
        .into_iter()
        .zip(results)
        .map(|(r, res)| {
            let mut values = r.values;
            values.extend(detail_metrics(&res.obs, &sc.model).into_iter().map(|x| x.1));
            UnitValues {
                unit: Unit {
                    config: 0,
                    replication: r.replication,
                },
                values,
            }
        })
        .collect();
    let header = ShardHeader {
        format: SHARD_FORMAT,
        callsim_version: env!("CARGO_PKG_VERSION").to_string(),
        args: super::result_args(argv),
        scenario: sc.path.display().to_string(),
        scenario_sha256: file_sha256(&sc.path).map_err(CliError::input)?,
        seed: sc.seed,
        replications: sc.replications,
        configs: 1,
        units: sc.replications as u64,
        shard_index: sh.index,
        shard_count: sh.count,
    };
    let w = f.create(&sh.file_name()).map_err(CliError::failure)?;
    write_shard(w, &header, &configs, &units).map_err(CliError::failure)?;
    let prefix = format!("{}.", sh.file_name().trim_end_matches(".csv"));
    write_row_files(f, &prefix, sc, variant, results, parts, calls_csv).map_err(CliError::failure)
}

/// `merge` of a run's shards: summary.csv from the metric values, each row file joined in
/// replication order, the manifest; the same bytes as the unsharded run.
pub fn merge_into(
    a: &RunArgs,
    units: Vec<UnitValues>,
    shard_paths: &[PathBuf],
    args: &[String],
) -> Result<(), CliError> {
    let sc = load_common(&a.common, a.variant.as_deref())?;
    let variant = sc.variant.clone().unwrap_or_else(|| "base".into());
    let out = a
        .out
        .as_ref()
        .ok_or_else(|| CliError::input("merge needs --out"))?;
    let mut f = OutputFiles::new(out).map_err(CliError::input)?;
    let names: Vec<String> = crate::metrics::columns(&sc.model)
        .into_iter()
        .map(|c| c.name)
        .collect();
    let rows: Vec<RepValues> = units
        .into_iter()
        .map(|u| RepValues {
            replication: u.unit.replication,
            values: u.values[..names.len()].to_vec(),
        })
        .collect();
    write_summary(
        f.create("summary.csv").map_err(CliError::failure)?,
        &names,
        &rows,
        sc.seed,
        &variant,
    )
    .map_err(CliError::failure)?;
    for file in row_files(&sc, a.calls_csv) {
        let inputs: Vec<PathBuf> = shard_paths
            .iter()
            .map(|p| {
                let stem = p
                    .file_name()
                    .expect("file")
                    .to_string_lossy()
                    .trim_end_matches(".csv")
                    .to_string();
                p.with_file_name(format!("{stem}.{file}"))
            })
            .collect();
        let w = f.create(file).map_err(CliError::failure)?;
        crate::batch::merge_rows(w, &inputs, sc.replications).map_err(CliError::input)?;
    }
    super::work::Manifest::new("run", args, out, &sc, &a.common)?.write(&mut f)?;
    f.commit().map_err(CliError::failure)?;
    crate::sayln!(
        "wrote summary.csv and the run's row files in {}",
        out.display()
    );
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
