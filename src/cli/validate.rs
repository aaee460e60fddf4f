//! `callsim validate`: run the grid of queueing-theory cases (or the given scenario files) through
//! the normal engine and compare each estimate with its exact value.

use super::{say, CliError};
use crate::export::{num, OutputFiles};
use crate::scenario::load_str;
use crate::validate::{run_cases, system_of, Case, Check, GRID};
use std::path::{Path, PathBuf};

const VALIDATE_EXAMPLES: &str = "\
Examples:
  callsim validate
  callsim validate --out results/validation
  callsim validate scenarios/validation/erlang-a-c10-a12.toml -n 40";

#[derive(clap::Args, Debug)]
#[command(after_help = VALIDATE_EXAMPLES)]
pub struct ValidateArgs {
    /// Scenario files with a [validation] table (default: the bundled grid).
    pub files: Vec<PathBuf>,
    /// Write validation.csv into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replications per case (default: each file's `replications`).
    #[arg(long, short = 'n', value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub replications: Option<u32>,
    /// Master seed (default: each file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Family-wise error rate: each of the K intervals is at level 1 - alpha/K (Bonferroni).
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(a: ValidateArgs) -> Result<(), CliError> {
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        return Err(CliError::input(format!(
            "--alpha {} must be between 0 and 1",
            a.alpha
        )));
    }
    let cases = cases_of(&a)?;
    let files = match &a.out {
        Some(d) => Some(OutputFiles::new(d).map_err(CliError::input)?),
        None => None,
    };
    crate::sayln!(
        "validation: {} case(s); intervals are Student-t over replications, Bonferroni-adjusted so that all hold together with probability {:.0}%",
        cases.len(),
        100.0 * (1.0 - a.alpha)
    );
    // The case column fits the longest name (a hand-written case may have any).
    let width = cases
        .iter()
        .map(|c| c.name.chars().count())
        .fold(18, usize::max);
    crate::sayln!(
        "{:<width$} {:<16} {:>14} {:>30} {:>14}  result",
        "case",
        "metric",
        "simulated",
        "interval",
        "exact"
    );
    let checks = run_cases(&cases, a.alpha, a.threads, !a.quiet, |_, checks| {
        for c in checks {
            say(&row(c, width));
        }
    })?;
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.pass()).collect();
    let level = checks.first().map(|c| c.level).unwrap_or(0.95);
    crate::sayln!(
        "{} of {} checks passed (each interval at {:.3}%, {} replications per case)",
        checks.len() - failed.len(),
        checks.len(),
        level * 100.0,
        cases
            .iter()
            .map(|c| c.scenario.replications.to_string())
            .collect::<Vec<_>>()
            .join("/")
    );
    if let Some(mut f) = files {
        let w = f.create("validation.csv").map_err(CliError::failure)?;
        write_csv(w, &checks).map_err(CliError::failure)?;
        let dir = f.dir().to_path_buf();
        f.commit().map_err(CliError::failure)?;
        crate::sayln!("wrote validation.csv in {}", dir.display());
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "{} exact value(s) outside their interval: {}",
            failed.len(),
            failed
                .iter()
                .map(|c| format!("{} {}", c.case, c.metric))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

/// The cases to check: the bundled grid, or the files named, each loaded, with `-n` and `--seed`
/// applied, recognised as a queueing system and refused when it has no steady state.
fn cases_of(a: &ValidateArgs) -> Result<Vec<Case>, CliError> {
    let sources: Vec<(String, PathBuf, String)> = if a.files.is_empty() {
        GRID.iter()
            .map(|(name, text)| {
                (
                    name.to_string(),
                    Path::new("scenarios/validation").join(format!("{name}.toml")),
                    text.to_string(),
                )
            })
            .collect()
    } else {
        let mut v = Vec::new();
        for f in &a.files {
            let text = crate::input::read_text(f, crate::input::MAX_TEXT_BYTES).map_err(|e| {
                CliError::input(format!(
                    "{}: cannot read the scenario file: {e}",
                    f.display()
                ))
            })?;
            let name = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            v.push((name, f.clone(), text));
        }
        v
    };
    let mut cases = Vec::new();
    for (name, path, text) in sources {
        let mut sc = load_str(&path, &text, None, &[])?;
        if let Some(n) = a.replications {
            sc.replications = n;
        }
        if let Some(s) = a.seed {
            sc.seed = s;
        }
        if sc.replications < 2 {
            return Err(CliError::input(format!(
                "{}: a validation case needs at least 2 replications for an interval",
                path.display()
            )));
        }
        let system =
            system_of(&sc).map_err(|m| CliError::input(format!("{}: {m}", path.display())))?;
        // A system with no steady state (load >= capacity) is bad input, said before any run.
        crate::validate::exact(&system)
            .map_err(|m| CliError::input(format!("{}: {m}", path.display())))?;
        cases.push(Case {
            name,
            scenario: sc,
            system,
        });
    }
    Ok(cases)
}

fn row(c: &Check, width: usize) -> String {
    let e = &c.estimate;
    format!(
        "{:<width$} {:<16} {:>14.6} {:>30} {:>14.6}  {}\n",
        c.case,
        c.metric,
        e.mean,
        format!("[{:.6}, {:.6}]", e.low(), e.high()),
        c.exact,
        if c.pass() { "pass" } else { "FAIL" }
    )
}

fn write_csv(w: impl std::io::Write, checks: &[Check]) -> Result<(), String> {
    let mut wr = csv::Writer::from_writer(w);
    let err = |e: csv::Error| format!("writing validation.csv: {e}");
    wr.write_record([
        "case",
        "metric",
        "replications",
        "level",
        "simulated_mean",
        "ci_low",
        "ci_high",
        "exact",
        "pass",
    ])
    .map_err(err)?;
    for c in checks {
        wr.write_record([
            c.case.clone(),
            c.metric.to_string(),
            c.estimate.n.to_string(),
            num(c.level),
            num(c.estimate.mean),
            num(c.estimate.low()),
            num(c.estimate.high()),
            num(c.exact),
            c.pass().to_string(),
        ])
        .map_err(err)?;
    }
    wr.flush()
        .map_err(|e| format!("writing validation.csv: {e}"))
}
