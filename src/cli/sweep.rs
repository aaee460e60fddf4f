//! `callsim sweep`: run a scenario at every point of a grid of key values (the Cartesian
//! product of the `--vary`s), with common random numbers across points, and report each
//! metric's mean and 95% CI per point; `sweep.csv` is tidy long format.

use super::run::fmt_num;
use super::settings::Settings;
use super::work::{evaluate_or_shard, Manifest};
use super::{CliError, CommonArgs};
use crate::batch::{by_config, Config, UnitValues};
use crate::error::Context;
use crate::export::{num, OutputFiles};
use crate::grid::{parse_vary, product};
use crate::metrics::estimate_column;
use std::path::PathBuf;

pub const SWEEP_EXAMPLES: &str = "\
Examples:
  callsim sweep scenarios/callrail-2018-05-14.toml --variant no-backup --vary carriers.carrier.rate=16/s..34/s:2/s -n 20
  callsim sweep scenarios/callrail-2018-05-14.toml --vary 'carriers.carrier.rate=20/s..40/s:10/s; carriers.carrier.burst=20..40:10' --metric abandon_ratio
  callsim sweep scenarios/callrail-2018-05-14.toml --vary sources.callers.rate_scale=0.8..1.2:0.1 --window peak=14:00-16:00 --out results/growth
  callsim sweep scenarios/callrail-2018-05-14.toml --vary 'changes[0].at=13:00,14:00,15:00,17:30'   (when to raise the limit)

VALUES is a list (10/s,15/s,20/s) or a range LOW..HIGH:STEP in one unit (10/s..30/s:5/s,
1000ms..3000ms:500ms, 10..100:10, 0.5..1.5:0.25). Keys joined by `;` in one --vary move
together; several --vary make a grid (Cartesian product).";

#[derive(clap::Args, Debug)]
#[command(after_help = SWEEP_EXAMPLES)]
pub struct SweepArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// KEY=VALUES to vary (repeatable; see below).
    #[arg(long = "vary", value_name = "KEY=VALUES", required = true)]
    pub varies: Vec<String>,
    /// Run this variant at every point.
    #[arg(long)]
    pub variant: Option<String>,
    /// Metrics to print (repeatable; default: connected, abandon_ratio, dial_delay_ms_p95, and
    /// the same per window). sweep.csv has every metric.
    #[arg(long = "metric", value_name = "METRIC")]
    pub metrics: Vec<String>,
    /// Write sweep.csv (and manifest.json) into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// A validated sweep: one configuration per grid point, all loaded before anything runs.
pub struct SweepJob {
    pub settings: Settings,
    pub keys: Vec<String>,
    pub points: Vec<Vec<(String, String)>>,
    pub configs: Vec<Config>,
    pub seed: u64,
    pub reps: u32,
    pub shown: Vec<String>,
}

/// Loads the scenario at every point (so a bad key or value is refused before any run).
pub fn prepare(a: &SweepArgs) -> Result<SweepJob, CliError> {
    let varies = a
        .varies
        .iter()
        .map(|v| parse_vary(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::input)?;
    let keys: Vec<String> = varies.iter().flat_map(|v| v.keys.clone()).collect();
    if let Some(k) = keys
        .iter()
        .enumerate()
        .find(|(i, k)| keys[..*i].contains(k))
    {
        return Err(CliError::input(format!(
            "--vary: key `{}` is varied twice",
            k.1
        )));
    }
    let points = product(&varies);
    if points.len() > crate::grid::MAX_VALUES {
        return Err(CliError::input(format!(
            "the grid has {} points, more than the {} allowed; vary fewer keys or use coarser steps",
            points.len(),
            crate::grid::MAX_VALUES
        )));
    }
    let settings = Settings::new(&a.common)?;
    let configs = load_points(&settings, a.variant.as_deref(), &points)?;
    let sc = &configs[0].scenario;
    let shown = chosen_metrics(&a.metrics, &configs[0])?;
    Ok(SweepJob {
        settings,
        keys,
        seed: sc.seed,
        reps: sc.replications,
        points,
        configs,
        shown,
    })
}

/// Loads the scenario at each point; errors say which point and value caused them.
pub fn load_points(
    c: &Settings,
    variant: Option<&str>,
    points: &[Vec<(String, String)>],
) -> Result<Vec<Config>, CliError> {
    let mut configs = Vec::with_capacity(points.len());
    for p in points {
        let label = point_label(p);
        let scenario = c
            .with_sets(p.iter().map(|(k, v)| format!("{k}={v}")))
            .load(variant, false)
            .with_context(|| format!("--vary point {label}"))?;
        configs.push(Config { label, scenario });
    }
    Ok(configs)
}

pub fn point_label(p: &[(String, String)]) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The metrics to print: as asked (each checked, with a "did you mean"), or the defaults.
pub fn chosen_metrics(asked: &[String], c: &Config) -> Result<Vec<String>, CliError> {
    let cols = crate::metrics::columns(&c.scenario.model);
    let mut extra = crate::stats::detail_names(&c.scenario.model);
    extra.extend(crate::alerts::value_names(&c.scenario.model.alerts));
    if asked.is_empty() {
        let mut m: Vec<String> = ["connected", "abandon_ratio", "dial_delay_ms_p95"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for w in &c.scenario.model.windows {
            m.push(format!("abandon_ratio@{}", w.name));
            m.push(format!("dial_delay_ms_p95@{}", w.name));
        }
        return Ok(m);
    }
    asked
        .iter()
        .map(|m| {
            crate::metrics::lookup(m, &cols, &extra)
                .map_err(|e| CliError::input(format!("--metric: {e}")))
        })
        .collect()
}

pub fn run(a: SweepArgs, argv: &[String]) -> Result<(), CliError> {
    let job = prepare(&a)?;
    crate::sayln!(
        "seed {}  replications {} per point  points {}  scenario {}  (common random numbers across points)",
        job.seed,
        job.reps,
        job.points.len(),
        a.common.scenario.display()
    );
    let units = evaluate_or_shard(
        &job.configs,
        &job.settings,
        job.seed,
        job.reps,
        a.out.as_deref(),
        argv,
        "sweep",
    )?;
    match units {
        Some(u) => render(&a, &job, u, &super::result_args(argv)),
        None => Ok(()),
    }
}

/// Prints one table per chosen metric and writes sweep.csv: the same bytes whether the units
/// ran here or came from shards.
pub fn render(
    a: &SweepArgs,
    job: &SweepJob,
    units: Vec<UnitValues>,
    args: &[String],
) -> Result<(), CliError> {
    let per_point = by_config(job.configs.len(), units);
    let names: Vec<Vec<String>> = job.configs.iter().map(Config::names).collect();
    let est = |p: usize, m: &str| {
        names[p]
            .iter()
            .position(|n| n == m)
            .map(|j| estimate_column(&per_point[p], j, 0.95))
    };
    let kw = job.keys.iter().map(String::len).max().unwrap_or(8);
    for m in &job.shown {
        crate::sayln!(
            "{m}  (mean [95% CI] over {} replications per point)",
            job.reps
        );
        crate::sayln!("  {}", job.keys.join("  "));
        for (p, point) in job.points.iter().enumerate() {
            let vals: Vec<String> = point.iter().map(|(_, v)| v.clone()).collect();
            let line = match est(p, m) {
                Some(e) => format!(
                    "{:>12} [{}, {}]",
                    fmt_num(e.mean),
                    fmt_num(e.low()),
                    fmt_num(e.high())
                ),
                None => format!("{:>12}", "-"),
            };
            crate::sayln!("  {:<kw$}  {line}", vals.join("  "));
        }
    }
    let Some(out) = &a.out else {
        return Ok(());
    };
    let mut f = OutputFiles::new(out).map_err(CliError::input)?;
    let w = f.create("sweep.csv").map_err(CliError::failure)?;
    let mut wr = csv::Writer::from_writer(w);
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(job.keys.iter().cloned());
    header.extend(
        [
            "variant",
            "metric",
            "mean",
            "ci95_low",
            "ci95_high",
            "replications",
        ]
        .map(String::from),
    );
    let variant = a.variant.clone().unwrap_or_default();
    let write = (|| -> Result<(), csv::Error> {
        wr.write_record(&header)?;
        for (p, point) in job.points.iter().enumerate() {
            for (j, m) in names[p].iter().enumerate() {
                let e = estimate_column(&per_point[p], j, 0.95);
                let mut rec: Vec<String> = vec![p.to_string()];
                rec.extend(point.iter().map(|(_, v)| v.clone()));
                rec.extend([
                    variant.clone(),
                    m.clone(),
                    num(e.mean),
                    num(e.low()),
                    num(e.high()),
                    e.n.to_string(),
                ]);
                wr.write_record(&rec)?;
            }
        }
        wr.flush().map_err(csv::Error::from)
    })();
    write.map_err(|e| CliError::failure(format!("writing sweep.csv: {e}")))?;
    drop(wr);
    Manifest::new("sweep", args, out, &job.configs[0].scenario, &job.settings)?.write(&mut f)?;
    f.commit().map_err(CliError::failure)?;
    crate::sayln!("wrote sweep.csv in {}", out.display());
    Ok(())
}
