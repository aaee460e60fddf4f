//! `callsim merge`: reassembles the shard files of a sharded `run`, `compare` or `sweep` and writes
//! exactly (byte for byte) what the unsharded command writes. Shards that do not belong
//! together (another scenario, seed, command or callsim version) are refused, and missing or
//! duplicate shards are named.

use super::{compare, sweep, Cli, CliError, Command};
use crate::batch::{assemble, file_sha256, find_shards, read_shard, Config};
use clap::Parser;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  callsim sweep S.toml --vary carriers.c.rate=10/s..30/s:5/s --shard 0/2 --out shards
  callsim sweep S.toml --vary carriers.c.rate=10/s..30/s:5/s --shard 1/2 --out shards
  callsim merge shards --out results/sweep")]
pub struct MergeArgs {
    /// Directories holding shard files (shard-I-of-N.csv), or the files themselves.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write the merged outputs into DIR.
    #[arg(long, value_name = "DIR", required = true)]
    pub out: PathBuf,
}

pub fn run(a: MergeArgs) -> Result<(), CliError> {
    let paths = find_shards(&a.inputs).map_err(CliError::input)?;
    let shards = paths
        .iter()
        .map(|p| read_shard(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::input)?;
    let h = shards[0].header.clone();
    let ours = env!("CARGO_PKG_VERSION");
    if h.callsim_version != ours {
        return Err(CliError::input(format!(
            "{}: written by callsim {}, but this is callsim {ours}; merge with the version that ran the shards",
            shards[0].path.display(),
            h.callsim_version
        )));
    }
    let now = file_sha256(std::path::Path::new(&h.scenario)).map_err(|e| {
        CliError::input(format!(
            "{e}; merge re-reads the scenario the shards ran (run it from the same directory)"
        ))
    })?;
    if now != h.scenario_sha256 {
        return Err(CliError::input(format!(
            "`{}` changed since the shards ran (sha256 {:.12} now, {:.12} then); the shards cannot be merged into its outputs",
            h.scenario, now, h.scenario_sha256
        )));
    }
    let mut argv: Vec<String> = vec!["callsim".into()];
    argv.extend(h.args.iter().cloned());
    argv.extend([
        "--out".to_string(),
        a.out.display().to_string(),
        "-q".into(),
    ]);
    let cli = Cli::try_parse_from(&argv).map_err(|e| {
        CliError::input(format!(
            "{}: the recorded command no longer parses ({}): {}",
            shards[0].path.display(),
            h.args.join(" "),
            e.to_string().lines().next().unwrap_or_default()
        ))
    })?;
    type Layout = (Vec<Vec<String>>, Vec<Vec<crate::metrics::ValueKind>>);
    let check = |configs: &[Config], reps: u32, seed: u64| -> Result<Layout, CliError> {
        if configs.len() as u32 != h.configs || reps != h.replications || seed != h.seed {
            return Err(CliError::input(format!(
                "{}: the shards ran {} configurations x {} replications with seed {}, but the command now gives {} x {} with seed {}",
                shards[0].path.display(), h.configs, h.replications, h.seed, configs.len(), reps, seed
            )));
        }
        Ok((
            configs.iter().map(Config::names).collect(),
            configs.iter().map(Config::kinds).collect(),
        ))
    };
    crate::sayln!(
        "merging {} shard files of `callsim {}`",
        shards.len(),
        h.args.join(" ")
    );
    let mut by_index: Vec<PathBuf> = vec![PathBuf::new(); h.shard_count as usize];
    for s in &shards {
        if let Some(slot) = by_index.get_mut(s.header.shard_index as usize) {
            *slot = s.path.clone();
        }
    }
    match cli.command {
        Command::Run(ra) => {
            let sc =
                super::settings::Settings::new(&ra.common)?.load(ra.variant.as_deref(), false)?;
            let cfg = Config {
                label: String::new(),
                scenario: sc,
            };
            let (reps, seed) = (cfg.scenario.replications, cfg.scenario.seed);
            let (names, kinds) = check(std::slice::from_ref(&cfg), reps, seed)?;
            let units = assemble(shards, &names, &kinds).map_err(CliError::input)?;
            super::run::merge_into(&ra, units, &by_index, &h.args)
        }
        Command::Compare(ca) => {
            let job = compare::prepare(&ca)?;
            let (names, kinds) = check(&job.configs, job.reps, job.seed)?;
            let units = assemble(shards, &names, &kinds).map_err(CliError::input)?;
            compare::render(&ca, &job, units, &h.args)
        }
        Command::Sweep(sa) => {
            let job = sweep::prepare(&sa)?;
            let (names, kinds) = check(&job.configs, job.reps, job.seed)?;
            let units = assemble(shards, &names, &kinds).map_err(CliError::input)?;
            sweep::render(&sa, &job, units, &h.args)
        }
        _ => Err(CliError::input(format!(
            "{}: shards of `callsim {}` cannot be merged; only run, compare and sweep shards can",
            shards[0].path.display(),
            h.args.first().map(String::as_str).unwrap_or("?")
        ))),
    }
}
