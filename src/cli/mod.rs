//! The command line: the only reader of argv. One module per subcommand; each parses raw
//! arguments into validated settings, runs, and returns an error for `main` to print.

pub mod check;
pub mod compare;
pub mod erlang;
pub mod fit;
pub mod merge;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod run;
pub mod schema;
pub mod serve;
pub mod settings;
pub mod sweep;
pub mod validate;
pub mod work;

use clap::{Parser, Subcommand};

/// The error every subcommand returns: the library's typed error, whose variant gives the
/// exit code (`Error::code`).
pub use crate::error::Error as CliError;

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
    /// Run a scenario over a grid of values of one or more keys (with CIs per point).
    Sweep(sweep::SweepArgs),
    /// Find the least value of a lever at which every target holds with 95% confidence.
    Plan(plan::PlanArgs),
    /// Merge the shard files of a sharded run, compare, sweep or plan into its outputs.
    Merge(merge::MergeArgs),
    /// Validate a scenario (and its variants) without running it.
    Check(check::CheckArgs),
    /// Check the engine against queueing theory (Erlang B, C, A, M/D/1) with 95% family-wise CIs.
    Validate(validate::ValidateArgs),
    /// Exact queueing formulas: Erlang B, C, A and M/D/1, and the inverse questions.
    Erlang(erlang::ErlangArgs),
    /// Estimate a scenario from call detail records (Asterisk, FreeSWITCH, Twilio or CSV).
    Fit(fit::FitArgs),
    /// Render DIR/report.html (self-contained, with charts) from an output directory.
    Report(report::ReportArgs),
    /// List the metrics runs report (names, units, meanings), or those of one scenario's outputs.
    Metrics(metrics::MetricsArgs),
    /// Print the JSON Schema of scenario files (for editors: taplo, Even Better TOML).
    Schema(schema::SchemaArgs),
    /// Serve a live what-if dashboard of the scenarios in DIR (loopback only unless --bind says otherwise).
    Serve(serve::ServeArgs),
}

/// Runs the chosen subcommand. `argv` is the raw command line (recorded in shard files and
/// manifests so that a result says how it was made).
pub fn main_with(cli: Cli, argv: &[String]) -> Result<(), CliError> {
    match cli.command {
        Command::Run(a) => run::run(a, argv),
        Command::Compare(a) => compare::run(a, argv),
        Command::Sweep(a) => sweep::run(a, argv),
        Command::Plan(a) => plan::run(a, argv),
        Command::Merge(a) => merge::run(a),
        Command::Check(a) => check::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Fit(a) => fit::run(a),
        Command::Report(a) => report::run(a),
        Command::Metrics(a) => metrics::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Erlang(a) => {
            let mut buf = Vec::new();
            erlang::run(&a, &mut buf).map_err(CliError::input)?;
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
    /// Override any scenario key, e.g. --set carriers.carrier.rate=30/s or an array element,
    /// --set 'changes[0].at=17:00' (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Worker threads for replications (0 = all cores). Output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No progress bar on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// A named clock window of arrivals, e.g. --window peak=10:00-12:00 (repeatable): every
    /// call metric is also reported for the calls arriving in it (`abandon_ratio@peak`).
    #[arg(long = "window", value_name = "NAME=HH:MM-HH:MM")]
    pub windows: Vec<String>,
    /// Run only shard I of N of the work (I from 0), or `auto` (Slurm job arrays, Kubernetes
    /// Indexed Jobs), and write DIR/shard-I-of-N.csv for `callsim merge`.
    #[arg(long, value_name = "I/N|auto", requires = "out")]
    pub shard: Option<String>,
    /// Most events one replication may take: a scenario whose estimate is larger is refused
    /// before it runs (see `callsim check`), and a run that grows past it stops.
    #[arg(long, value_name = "N", default_value_t = crate::budget::DEFAULT_MAX_EVENTS)]
    pub max_events: f64,
    /// Most memory the run may hold, e.g. 8G (default: half the machine's memory); a scenario
    /// whose estimate is larger is refused before it runs.
    #[arg(long, value_name = "SIZE", value_parser = crate::budget::parse_bytes)]
    pub max_memory: Option<f64>,
    /// Most bytes of output files a run may write (estimated before it runs), e.g. 50G.
    #[arg(long, value_name = "SIZE", value_parser = crate::budget::parse_bytes, default_value = "10G")]
    pub max_output: f64,
}

/// `peak=10:00-12:00` -> `windows.peak=["10:00","12:00"]` (checked by the scenario loader).
pub fn window_set(w: &str) -> Result<String, String> {
    let bad = || format!("--window `{w}`: expected NAME=HH:MM-HH:MM such as peak=10:00-12:00");
    let (name, span) = w.split_once('=').ok_or_else(bad)?;
    let (a, b) = span.split_once('-').ok_or_else(bad)?;
    crate::scenario::check_window_name(name.trim()).map_err(|m| format!("--window `{w}`: {m}"))?;
    for t in [a, b] {
        crate::time::parse_clock(t.trim()).map_err(|m| format!("--window `{w}`: {m}"))?;
    }
    Ok(format!(
        "windows.{}=[\"{}\",\"{}\"]",
        name.trim(),
        a.trim(),
        b.trim()
    ))
}

/// The arguments after `callsim` that determine a result: argv without the flags that only
/// say where or how fast to write it (--out, --shard, --threads, --quiet). Shard files carry
/// them, and `merge` re-reads them.
pub fn result_args(argv: &[String]) -> Vec<String> {
    const WITH_VALUE: &[&str] = &["--out", "--shard", "--threads"];
    const ALONE: &[&str] = &["-q", "--quiet"];
    let mut out = Vec::new();
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        if WITH_VALUE.contains(&a.as_str()) {
            it.next();
        } else if ALONE.contains(&a.as_str())
            || WITH_VALUE.iter().any(|f| a.starts_with(&format!("{f}=")))
        {
        } else {
            out.push(a.clone());
        }
    }
    out
}
