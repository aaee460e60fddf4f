//! `callsim run`: run one scenario (optionally one variant of it), print the summary, and write
//! CSV with --out.

use super::settings::Settings;
use super::{CliError, CommonArgs};
use crate::batch::{
    all_units, file_sha256, write_shard, Config, Shard, ShardHeader, Unit, UnitValues, SHARD_FORMAT,
};
use crate::export::{concat_parts, write_summary, write_timeline, CallsCsvSink, OutputFiles};
use crate::metrics::RepValues;
use crate::model::CallSink;
use crate::run::{run_map, ReplicationResult};
use crate::scenario::Scenario;
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

/// What `run` keeps of a replication once it has ended: its metric values (registry columns,
/// then per tenant and stage) and engine counts. Its rows of the row files are on disk by then.
pub struct RepRecord {
    pub replication: u32,
    pub values: Vec<f64>,
    pub events: u64,
    pub offered: u64,
    pub wall_s: f64,
}

pub fn run(a: RunArgs, argv: &[String]) -> Result<(), CliError> {
    let set = Settings::new(&a.common)?;
    let sc = set.load(a.variant.as_deref(), a.out.is_some())?;
    if a.out.is_some() {
        check_output(&sc, &a, &set)?;
    }
    let variant = sc.variant.clone().unwrap_or_else(|| "base".into());
    let shard = set.shard;
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
    crate::sayln!(
        "seed {}  replications {}  scenario {}{}",
        sc.seed,
        sc.replications,
        sc.path.display(),
        variant_note(&sc)
    );
    let parts = files
        .as_mut()
        .map(|f| Parts::new(f, &sc, a.calls_csv))
        .unwrap_or_default();
    let wall = Instant::now();
    let records = run_reduced(&sc, (&set, a.out.is_some()), &variant, &reps, &parts);
    let wall_s = wall.elapsed().as_secs_f64();
    let written = records.and_then(|records| {
        if shard.is_none() {
            crate::cli::say(&summary_text(&sc, &records, wall_s));
        }
        match (files.as_mut(), shard) {
            (Some(f), Some(sh)) => write_shard_files(f, sh, &sc, &variant, &records, &parts, argv),
            (Some(f), None) => write_run_files(f, &sc, &variant, &records, &parts, argv, &set),
            (None, _) => Ok(()),
        }
    });
    parts.remove();
    written?;
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

/// Runs the listed replications; each, as it ends, is reduced to a `RepRecord` and its rows
/// are written to its part files, so memory holds no finished replication's observations.
fn run_reduced(
    sc: &Scenario,
    (set, timeline): (&Settings, bool),
    variant: &str,
    reps: &[u32],
    parts: &Parts,
) -> Result<Vec<RepRecord>, CliError> {
    let opts = set.run_options(sc, reps.len() as u32, timeline);
    let source_names: Vec<String> = sc.model.sources.iter().map(|s| s.name.clone()).collect();
    let sinks = |rep: u32| -> Result<Option<Box<dyn CallSink + Send>>, CliError> {
        match parts.calls.get(rep as usize) {
            Some(p) => Ok(Some(Box::new(
                CallsCsvSink::create(p, variant, rep, source_names.clone())
                    .map_err(CliError::failure)?,
            ))),
            None => Ok(None),
        }
    };
    let cols = crate::metrics::columns(&sc.model);
    let reduce = |r: ReplicationResult| -> Result<RepRecord, CliError> {
        parts
            .write_rows(sc, variant, &r)
            .map_err(CliError::failure)?;
        let mut values = crate::metrics::values(&cols, &r.obs);
        values.extend(detail_metrics(&r.obs, &sc.model).into_iter().map(|x| x.1));
        values.extend(crate::alerts::values(
            &sc.model.alerts,
            sc.model.start,
            &r.obs,
        ));
        Ok(RepRecord {
            replication: r.replication,
            values,
            events: r.obs.events,
            offered: r.obs.counts.offered,
            wall_s: r.wall_s,
        })
    };
    run_map(sc, &opts, reps, &sinks, &reduce)
}

/// Refuses a run whose files would be larger than --max-output.
fn check_output(sc: &Scenario, a: &RunArgs, set: &Settings) -> Result<(), CliError> {
    let w = crate::budget::estimate(&sc.model);
    let n = f64::from(sc.replications);
    let calls = if a.calls_csv { w.calls_bytes * n } else { 0.0 };
    let total = w.timeline_bytes * n + calls;
    if total <= set.max_output {
        return Ok(());
    }
    let why = if calls > total / 2.0 {
        format!(
            "calls.csv would hold about {} rows",
            crate::budget::sci(w.calls.unwrap_or(0.0) * n)
        )
    } else {
        format!(
            "timeline.csv would hold {} rows per replication (timeline_interval {})",
            crate::budget::sci(w.timeline_rows),
            sc.model.interval
        )
    };
    Err(CliError::input(format!(
        "{}: the outputs would take about {}, over --max-output {}: {why}; use a longer timeline_interval, fewer replications or no --calls-csv, or raise --max-output",
        a.common.scenario.display(),
        crate::budget::bytes_text(total),
        crate::budget::bytes_text(set.max_output)
    )))
}

/// Per-replication part files of the row files (hidden scratch files in the output folder).
#[derive(Default)]
struct Parts {
    /// calls.csv rows of replication r (no header), when asked for.
    calls: Vec<PathBuf>,
    /// For each row file but calls.csv: (name, the part of each replication).
    rows: Vec<(&'static str, Vec<PathBuf>)>,
}

impl Parts {
    fn new(f: &mut OutputFiles, sc: &Scenario, calls_csv: bool) -> Parts {
        let n = sc.replications;
        let calls = if calls_csv {
            (0..n)
                .map(|r| f.scratch_path(&format!("calls-{r}.csv")))
                .collect()
        } else {
            Vec::new()
        };
        let rows = row_files(sc, false)
            .into_iter()
            .map(|name| {
                (
                    name,
                    (0..n)
                        .map(|r| f.scratch_path(&format!("{name}-{r}")))
                        .collect(),
                )
            })
            .collect();
        Parts { calls, rows }
    }

    /// Writes replication `r`'s rows of every row file (each part with its header line).
    fn write_rows(
        &self,
        sc: &Scenario,
        variant: &str,
        r: &ReplicationResult,
    ) -> Result<(), String> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let i = r.replication as usize;
        let part = |name: &str| -> Result<std::io::BufWriter<std::fs::File>, String> {
            let p = &self
                .rows
                .iter()
                .find(|(n, _)| *n == name)
                .expect("a row file")
                .1[i];
            std::fs::File::create(p)
                .map(std::io::BufWriter::new)
                .map_err(|e| format!("cannot write `{}`: {e}", p.display()))
        };
        let one = std::slice::from_ref(r);
        let m = &sc.model;
        write_timeline(part("timeline.csv")?, one, variant, m)?;
        if m.sources.len() > 1 || !m.stages.is_empty() {
            crate::export::write_tenants(
                part("tenants.csv")?,
                part("tenants_timeline.csv")?,
                one,
                m,
                variant,
            )?;
        }
        if !m.stages.is_empty() {
            crate::export::write_stages(
                part("stages.csv")?,
                part("stages_timeline.csv")?,
                one,
                m,
                variant,
            )?;
        }
        if !m.alerts.is_empty() {
            crate::export::write_alerts(part("alerts.csv")?, one, m, variant)?;
        }
        Ok(())
    }

    /// Writes each row file as `prefix` + its name: the header once, then the parts of `reps`
    /// in order; calls.csv from its parts.
    fn assemble(&self, f: &mut OutputFiles, prefix: &str, reps: &[u32]) -> Result<(), String> {
        let mut names: Vec<&str> = self.rows.iter().map(|(n, _)| *n).collect();
        if !self.calls.is_empty() {
            names.insert(1, "calls.csv");
        }
        for name in names {
            let w = f.create(&format!("{prefix}{name}"))?;
            if name == "calls.csv" {
                let mine: Vec<PathBuf> = reps
                    .iter()
                    .map(|&r| self.calls[r as usize].clone())
                    .collect();
                concat_parts(w, &mine)?;
            } else {
                let p = &self
                    .rows
                    .iter()
                    .find(|(n, _)| *n == name)
                    .expect("a row file")
                    .1;
                let mine: Vec<PathBuf> = reps.iter().map(|&r| p[r as usize].clone()).collect();
                crate::export::concat_with_header(w, &mine)?;
            }
        }
        Ok(())
    }

    fn remove(&self) {
        for p in self
            .calls
            .iter()
            .chain(self.rows.iter().flat_map(|(_, v)| v))
        {
            let _ = std::fs::remove_file(p);
        }
    }
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
    if !m.alerts.is_empty() {
        v.push("alerts.csv");
    }
    v
}

fn summary_rows(sc: &Scenario, records: &[RepRecord]) -> (Vec<String>, Vec<RepValues>) {
    let names: Vec<String> = crate::metrics::columns(&sc.model)
        .into_iter()
        .map(|c| c.name)
        .collect();
    let rows = records
        .iter()
        .map(|r| RepValues {
            replication: r.replication,
            values: r.values[..names.len()].to_vec(),
        })
        .collect();
    (names, rows)
}

fn write_run_files(
    f: &mut OutputFiles,
    sc: &Scenario,
    variant: &str,
    records: &[RepRecord],
    parts: &Parts,
    argv: &[String],
    set: &Settings,
) -> Result<(), CliError> {
    let (names, rows) = summary_rows(sc, records);
    let summary = f.create("summary.csv").map_err(CliError::failure)?;
    write_summary(summary, &names, &rows, sc.seed, variant).map_err(CliError::failure)?;
    let reps: Vec<u32> = records.iter().map(|r| r.replication).collect();
    parts.assemble(f, "", &reps).map_err(CliError::failure)?;
    let args = super::result_args(argv);
    let dir = f.dir().to_path_buf();
    super::work::Manifest::new("run", &args, &dir, sc, set)?.write(f)
}

/// A shard of a run: its replications' metric values (`shard-I-of-N.csv`, the same values as
/// a compare or sweep unit) and its rows of every row file (`shard-I-of-N.timeline.csv`, ...).
fn write_shard_files(
    f: &mut OutputFiles,
    sh: Shard,
    sc: &Scenario,
    variant: &str,
    records: &[RepRecord],
    parts: &Parts,
    argv: &[String],
) -> Result<(), CliError> {
    let configs = [Config {
        label: variant.to_string(),
        scenario: sc.clone(),
    }];
    let units: Vec<UnitValues> = records
        .iter()
        .map(|r| UnitValues {
            unit: Unit {
                config: 0,
                replication: r.replication,
            },
            values: r.values.clone(),
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
    let reps: Vec<u32> = records.iter().map(|r| r.replication).collect();
    parts.assemble(f, &prefix, &reps).map_err(CliError::failure)
}

/// `merge` of a run's shards: summary.csv from the metric values, each row file joined in
/// replication order, the manifest; the same bytes as the unsharded run.
pub fn merge_into(
    a: &RunArgs,
    units: Vec<UnitValues>,
    shard_paths: &[PathBuf],
    args: &[String],
) -> Result<(), CliError> {
    let set = Settings::new(&a.common)?;
    let sc = set.load(a.variant.as_deref(), false)?;
    let variant = sc.variant.clone().unwrap_or_else(|| "base".into());
    let out = a
        .out
        .as_ref()
        .ok_or_else(|| CliError::input("merge needs --out"))?;
    let mut f = OutputFiles::new(out).map_err(CliError::input)?;
    let records: Vec<RepRecord> = units
        .into_iter()
        .map(|u| RepRecord {
            replication: u.unit.replication,
            values: u.values,
            events: 0,
            offered: 0,
            wall_s: 0.0,
        })
        .collect();
    let (names, rows) = summary_rows(&sc, &records);
    write_summary(
        f.create("summary.csv").map_err(CliError::failure)?,
        &names,
        &rows,
        sc.seed,
        &variant,
    )
    .map_err(CliError::failure)?;
    // Every row file is checked as it is joined, against the scenario, timeline.csv (joined
    // first) and the shard files' metric values.
    let all = Config {
        label: String::new(),
        scenario: sc.clone(),
    }
    .names();
    let metric = |r: u32, name: &str| -> Option<f64> {
        let j = all.iter().position(|n| n == name)?;
        let rec = records.get(r as usize).filter(|x| x.replication == r)?;
        rec.values.get(j).copied()
    };
    let mut run_rows = crate::export::RunRows::new(&sc.model, &variant, sc.replications, &metric);
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
        let mut check = crate::export::RowCheck::new(&mut run_rows, file)
            .ok_or_else(|| CliError::failure(format!("no check for the row file {file}")))?;
        crate::batch::merge_rows(w, &inputs, sc.replications, &mut check)
            .map_err(CliError::input)?;
    }
    super::work::Manifest::new("run", args, out, &sc, &set)?.write(&mut f)?;
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
    ("dial_waited_ratio", "share of legs that waited, P(W > 0)"),
    ("dial_delay_ms_mean", "dial delay mean (ms), E[W | dialled]"),
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

/// Rows printed after `legs_dialed` when the scenario reports their first metric (a carrier
/// setting that produces them; see `metrics::shown`): (that metric, row metric, label).
pub const CARRIER_ROWS: &[(&str, &str, &str)] = &[
    (
        "legs_dialed_wasted",
        "legs_dialed_wasted",
        "  of which wasted (call had ended)",
    ),
    (
        "legs_retried",
        "legs_rejected",
        "legs rejected (every attempt)",
    ),
    ("legs_retried", "legs_retried", "  retried after a backoff"),
    (
        "legs_retried",
        "legs_gave_up",
        "  given up after the last retry",
    ),
];

/// Rows shown per named window in the terminal summary.
pub const WINDOW_ROWS: &[(&str, &str)] = &[
    ("offered", "offered"),
    ("connected", "connected"),
    ("abandoned", "abandoned"),
    ("abandon_ratio", "abandoned / offered"),
    ("dial_waited_ratio", "share of legs that waited, P(W > 0)"),
    ("dial_delay_ms_mean", "dial delay mean (ms), E[W | dialled]"),
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
pub fn summary_text(sc: &Scenario, records: &[RepRecord], wall_s: f64) -> String {
    let names = Config {
        label: String::new(),
        scenario: sc.clone(),
    }
    .names();
    let n = records.len();
    let col = |name: &str| -> Vec<f64> {
        let j = names
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("summary row `{name}` is not a metric"));
        records.iter().map(|r| r.values[j]).collect()
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
        if *key == "legs_dialed" {
            for (gate, key, label) in CARRIER_ROWS {
                if names.iter().any(|n| n == gate) {
                    s += &summary_line(label, &col(key));
                }
            }
        }
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
    let details = crate::stats::detail_names(&sc.model);
    if !details.is_empty() {
        s += "  per tenant and stage:\n";
        for name in &details {
            s += &summary_line(name, &col(name));
        }
    }
    s += &alert_summary(sc, &col);
    let events: u64 = records.iter().map(|r| r.events).sum();
    let calls: u64 = records.iter().map(|r| r.offered).sum();
    let cpu_s: f64 = records.iter().map(|r| r.wall_s).sum();
    s += &format!(
        "  events {events} in {wall_s:.2} s wall ({cpu_s:.2} s in replications): {:.2} M events/s, {:.2} M calls/s per thread\n",
        events as f64 / cpu_s.max(1e-9) / 1e6,
        calls as f64 / cpu_s.max(1e-9) / 1e6
    );
    // What the memory follows: the most of each at once, over all replications.
    let most = |key: &str| col(key).into_iter().fold(0.0f64, f64::max);
    s += &format!(
        "  in flight at most: {} calls, {} pending events\n",
        most("calls_in_flight_max"),
        most("pending_events_max")
    );
    s
}

/// When each alert rule first fired: in how many replications, and the clock time (and
/// seconds from the start) with its 95% CI over the replications where it fired.
fn alert_summary(sc: &Scenario, col: &dyn Fn(&str) -> Vec<f64>) -> String {
    let m = &sc.model;
    if m.alerts.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "  alert rules: first firing (clock time, mean [95% CI] over the replications where it fired):\n",
    );
    for rule in &m.alerts {
        let fired = col(&format!("alert_fired[{}]", rule.name));
        let n_fired = fired.iter().filter(|x| **x == 1.0).count();
        let at = estimate(&col(&format!("alert_first_fired_s[{}]", rule.name)), 0.95);
        let firings = estimate(&col(&format!("alert_firings[{}]", rule.name)), 0.95);
        s += &format!(
            "    {}: {}\n      fired in {n_fired}/{} replications",
            rule.name,
            rule.describe(m.interval),
            fired.len()
        );
        if n_fired > 0 {
            s += &format!(
                "; first at {} [{}, {}] ({} s after the start); firings per replication {}",
                offset_clock(m.start, at.mean),
                offset_clock(m.start, at.low()),
                offset_clock(m.start, at.high()),
                fmt_num(at.mean),
                fmt_num(firings.mean)
            );
        }
        s += "\n";
    }
    s
}

/// `start` plus `secs` as a clock time ("-" when undefined, e.g. a CI of one value).
pub fn offset_clock(start: crate::time::SimTime, secs: f64) -> String {
    if secs.is_nan() {
        return "-".into();
    }
    start
        .plus(crate::time::SimDuration::from_secs_f64(secs.max(0.0)))
        .clock_hhmmss()
}

/// A number for the terminal: whole numbers as they are, 2 decimals from 1 up, 4 below 1, and
/// 3 significant digits below 0.01, so that a small probability (1.2e-5) does not print as 0.
pub fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.abs() >= 1000.0 || x == x.trunc() {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else if x.abs() >= 0.01 {
        format!("{x:.4}")
    } else if x.abs() >= 1e-9 {
        let places = 2 - x.abs().log10().floor() as i32;
        format!("{x:.*}", places as usize)
    } else {
        format!("{x:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/outputs.md's label table names every line of the terminal summary (it had drifted:
    /// two rows were missing), with its metric.
    #[test]
    fn the_docs_table_lists_every_summary_line() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/outputs.md");
        let doc = std::fs::read_to_string(path).unwrap();
        for (metric, label) in SUMMARY_ROWS {
            let label = label.trim().replace('|', "\\|");
            // The five statistics of a delay share one row: `| dial delay p50 / p90 / ... |`.
            let stats = ["p50", "p90", "p95", "p99", "max"].iter().find_map(|s| {
                label
                    .split_once(&format!(" {s} (ms)"))
                    .map(|(stem, _)| stem)
            });
            let row = doc.lines().find(|l| match stats {
                Some(stem) => {
                    l.starts_with(&format!("| {stem} p50 / p90 / p95 / p99 / max (ms) |"))
                }
                None => {
                    l.starts_with(&format!("| {label} |")) && l.contains(&format!("`{metric}`"))
                }
            });
            assert!(
                row.is_some(),
                "docs/outputs.md has no row for `{label}` ({metric})"
            );
        }
    }

    #[test]
    fn small_values_keep_their_significant_digits() {
        for (x, want) in [
            (0.0, "0"),
            (12345.6, "12346"),
            (2.5, "2.50"),
            (0.0726, "0.0726"),
            (0.001234, "0.00123"),
            (0.0000123456, "0.0000123"),
            (-0.000051, "-0.0000510"),
            (3.2e-12, "3.20e-12"),
            (f64::NAN, "-"),
        ] {
            assert_eq!(fmt_num(x), want, "{x}");
        }
    }

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
