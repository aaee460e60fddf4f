//! `callsim compare`: run variants of one scenario with common random numbers (same seed, same
//! replication indices, so every caller draws the same arrival and patience in each variant) and
//! report each variant and its paired difference from the first with a 95% CI.

use super::run::{fmt_num, load_common};
use super::{CliError, CommonArgs};
use crate::export::{num, OutputFiles};
use crate::model::CallSink;
use crate::run::{run_replications, RunOptions};
use crate::stats::{detail_metrics, estimate, metrics, paired_difference};
use std::io::Write;
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

/// The metrics compare reports, in order.
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
    "dial_delay_ms_p95",
    "dial_delay_ms_max",
    "pdd_ms_p95",
    "answer_wait_s_mean",
    "backup_on_s",
];

pub fn run(a: CompareArgs) -> Result<(), CliError> {
    let base = load_common(&a.common, None)?;
    let names: Vec<String> = if a.variants.is_empty() {
        base.variants.clone()
    } else {
        a.variants.clone()
    };
    if names.is_empty() {
        return Err(CliError::input(format!(
            "{}: the scenario defines no [variants.NAME] tables; add some or name them with --variant",
            a.common.scenario.display()
        )));
    }
    let mut scenarios = Vec::new();
    for v in &names {
        scenarios.push(load_common(&a.common, Some(v))?);
    }
    let files = match &a.out {
        Some(d) => Some(OutputFiles::new(d).map_err(CliError::input)?),
        None => None,
    };
    let seed = base.seed;
    let reps = a.common.replications.unwrap_or(base.replications);
    crate::sayln!(
        "seed {seed}  replications {reps}  scenario {}  (common random numbers across variants)",
        base.path.display()
    );
    let no_sink = |_r: u32| -> Result<Option<Box<dyn CallSink + Send>>, String> { Ok(None) };
    let mut per_variant: Vec<Vec<Vec<(String, f64)>>> = Vec::new();
    // The totals, then per-tenant and per-stage metrics in first-seen order (variants may differ).
    let mut all: Vec<String> = COMPARE_METRICS.iter().map(|m| m.to_string()).collect();
    for (v, sc) in names.iter().zip(&scenarios) {
        let opts = RunOptions {
            seed,
            replications: reps,
            threads: a.common.threads,
            progress: !a.common.quiet,
            label: v.clone(),
            timeline: false,
        };
        let results = run_replications(sc, &opts, &no_sink).map_err(CliError::failure)?;
        per_variant.push(
            results
                .iter()
                .map(|r| {
                    let mut m: Vec<(String, f64)> = metrics(&r.obs)
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect();
                    let detail = detail_metrics(&r.obs, &sc.model);
                    for (k, _) in &detail {
                        if !all.contains(k) {
                            all.push(k.clone());
                        }
                    }
                    m.extend(detail);
                    m
                })
                .collect(),
        );
    }
    let col = |vi: usize, name: &str| -> Vec<f64> {
        per_variant[vi]
            .iter()
            .map(|m| {
                m.iter()
                    .find(|(k, _)| *k == name)
                    .map(|x| x.1)
                    .unwrap_or(f64::NAN)
            })
            .collect()
    };
    // Terminal table: one block per metric.
    let width = names.iter().map(String::len).max().unwrap_or(8).max(8);
    crate::sayln!(
        "mean [95% CI]; for variants after the first, the paired difference from `{}` [95% CI]",
        names[0]
    );
    let mut rows_csv: Vec<Vec<String>> = Vec::new();
    for m in &all {
        let m = m.as_str();
        crate::sayln!("{m}");
        let basev = col(0, m);
        for (vi, v) in names.iter().enumerate() {
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
            crate::sayln!("{line}");
            rows_csv.push(vec![
                m.to_string(),
                v.clone(),
                names[0].clone(),
                e.n.to_string(),
                num(e.mean),
                num(e.low()),
                num(e.high()),
                if vi > 0 { num(d.mean) } else { "0".into() },
                if vi > 0 { num(d.low()) } else { "0".into() },
                if vi > 0 { num(d.high()) } else { "0".into() },
            ]);
        }
    }
    if let Some(mut f) = files {
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
            for r in &rows_csv {
                wr.write_record(r)?;
            }
            wr.flush()?;
            Ok(())
        })();
        write.map_err(|e| CliError::failure(format!("writing compare.csv: {e}")))?;
        drop(wr);
        let dir = f.dir().to_path_buf();
        f.commit().map_err(CliError::failure)?;
        crate::sayln!("wrote compare.csv in {}", dir.display());
    }
    std::io::stdout().flush().ok();
    Ok(())
}
