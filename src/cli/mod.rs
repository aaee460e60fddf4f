//! The command line: the only reader of argv. One module per subcommand; each parses raw
//! arguments into validated settings, runs, and returns an error for `main` to print.

pub mod check;
pub mod compare;
pub mod report;
pub mod run;
pub mod validate;

use clap::{Parser, Subcommand};
use std::fmt;

/// An error for the user, with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    /// 2: bad input (scenario, flags, traces); 1: the run itself failed (I/O and the like).
    pub code: i32,
}

impl CliError {
    pub fn input(m: impl Into<String>) -> Self {
        CliError {
            message: m.into(),
            code: 2,
        }
    }
    pub fn failure(m: impl Into<String>) -> Self {
        CliError {
            message: m.into(),
            code: 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crate::scenario::ScenarioError> for CliError {
    fn from(e: crate::scenario::ScenarioError) -> Self {
        CliError::input(e.to_string())
    }
}

/// Writes to stdout, ignoring a closed pipe (`callsim run ... | head` must not panic or lose
/// the output files).
pub fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// `say` with format arguments and a newline.
#[macro_export]
macro_rules! sayln {
    ($($arg:tt)*) => { $crate::cli::say(&format!("{}\n", format_args!($($arg)*))) };
}

pub const RUN_EXAMPLES: &str = "\
Examples:
  callsim run scenarios/callrail-2018-05-14.toml
  callsim run scenarios/callrail-2018-05-14.toml --out results/callrail -n 20 --calls-csv
  callsim run scenarios/callrail-2018-05-14.toml --variant no-backup --seed 7
  callsim run scenarios/callrail-2018-05-14.toml --set carriers.carrier.rate=30/s --set backup.policy=off";

pub const COMPARE_EXAMPLES: &str = "\
Examples:
  callsim compare scenarios/callrail-2018-05-14.toml
  callsim compare scenarios/callrail-2018-05-14.toml --variant actual --variant no-backup -n 50 --out results/cmp";

const EXAMPLES: &str = "\
Examples:
  callsim run scenarios/callrail-2018-05-14.toml
  callsim run scenarios/callrail-2018-05-14.toml --out results/callrail --replications 20
  callsim run scenarios/callrail-2018-05-14.toml --variant no-backup --set carriers.carrier.rate=24/s
  callsim compare scenarios/callrail-2018-05-14.toml --replications 20
  callsim check scenarios/callrail-2018-05-14.toml
  callsim validate --out results/validation
  callsim erlang b --channels 10 --load 5";

#[derive(Parser, Debug)]
#[command(name = "callsim", version, about = "Discrete-event simulator of telephony platforms under carrier rate limits", after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario: print a summary, and write CSV with --out.
    Run(run::RunArgs),
    /// Run a scenario's variants with common random numbers and compare them with 95% CIs.
    Compare(compare::CompareArgs),
    /// Validate a scenario (and its variants) without running it.
    Check(check::CheckArgs),
    /// Check the engine against queueing theory (Erlang B, C, A, M/D/1) with 95% family-wise CIs.
    Validate(validate::ValidateArgs),
    /// Exact queueing formulas: Erlang B, C, A and M/D/1, and the inverse questions.
    Erlang(crate::cli_erlang::ErlangArgs),
    /// Render DIR/report.html (self-contained, with charts) from an output directory.
    Report(report::ReportArgs),
}

/// Parses argv and runs the chosen subcommand.
pub fn main_with(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Check(a) => check::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Report(a) => report::run(a),
        Command::Erlang(a) => {
            let mut buf = Vec::new();
            crate::cli_erlang::run(&a, &mut buf).map_err(CliError::input)?;
            say(&String::from_utf8_lossy(&buf));
            Ok(())
        }
    }
}

/// Flags shared by `run` and `compare`.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// Scenario file (TOML).
    pub scenario: std::path::PathBuf,
    /// Master seed (default: the scenario's `seed`). The same seed gives byte-identical output.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of replications (default: the scenario's `replications`).
    #[arg(long, short = 'n', value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub replications: Option<u32>,
    /// Override any scenario key, e.g. --set carriers.carrier.rate=30/s (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Worker threads for replications (0 = all cores). Output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No progress bar on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}
