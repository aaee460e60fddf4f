//! The flags every scenario command shares, checked once into one settings object (as
//! ripgrep turns its flags into `HiArgs`): `--window`s become overrides, `--shard` is parsed,
//! the thread count and memory budget are resolved. Commands load scenarios, build run options
//! and check budgets through it, so no command re-reads or re-resolves a flag.

use super::{CliError, CommonArgs};
use crate::batch::{EvalOptions, Shard};
use crate::budget::Budget;
use crate::error::Context;
use crate::run::RunOptions;
use crate::scenario::Scenario;
use std::path::PathBuf;

/// The validated common flags of one command.
#[derive(Clone, Debug)]
pub struct Settings {
    pub scenario: PathBuf,
    /// `--set` as given (recorded in manifests).
    pub user_sets: Vec<String>,
    /// Every override the loader applies, in order: `--set`, then each `--window` as a
    /// `windows.NAME` override, then any a command adds (a sweep point).
    pub sets: Vec<String>,
    pub seed: Option<u64>,
    pub replications: Option<u32>,
    /// Worker threads, resolved (never 0).
    pub threads: usize,
    pub progress: bool,
    pub shard: Option<Shard>,
    pub max_events: f64,
    pub max_memory: f64,
    pub max_output: f64,
}

impl Settings {
    /// Checks the common flags (windows, shard) and resolves the defaults that depend on the
    /// machine (threads, memory).
    pub fn new(c: &CommonArgs) -> Result<Settings, CliError> {
        let mut sets = c.sets.clone();
        for w in &c.windows {
            sets.push(super::window_set(w).map_err(CliError::input)?);
        }
        let shard = c
            .shard
            .as_deref()
            .map(Shard::parse)
            .transpose()
            .map_err(CliError::input)?;
        let threads = if c.threads == 0 {
            std::thread::available_parallelism().map_or(1, |p| p.get())
        } else {
            c.threads
        };
        Ok(Settings {
            scenario: c.scenario.clone(),
            user_sets: c.sets.clone(),
            sets,
            seed: c.seed,
            replications: c.replications,
            threads,
            progress: !c.quiet,
            shard,
            max_events: c.max_events,
            max_memory: c
                .max_memory
                .unwrap_or_else(crate::budget::default_max_memory),
            max_output: c.max_output,
        })
    }

    /// Refuses work whose output files would be larger than --max-output: `bytes` estimated
    /// by the caller, `what` says which file and why it is that size.
    pub fn check_output(&self, bytes: f64, what: &str) -> Result<(), CliError> {
        if bytes <= self.max_output {
            return Ok(());
        }
        Err(CliError::input(format!(
            "{}: the outputs would take about {}, over --max-output {}: {what}; vary fewer values or metrics, or raise --max-output",
            self.scenario.display(),
            crate::budget::bytes_text(bytes),
            crate::budget::bytes_text(self.max_output)
        )))
    }

    /// These settings with more overrides after the user's (a sweep point's values).
    pub fn with_sets(&self, more: impl IntoIterator<Item = String>) -> Settings {
        let mut s = self.clone();
        s.sets.extend(more);
        s
    }

    /// The budget a run works within (`timeline`: each running replication keeps timeline
    /// rows in memory).
    pub fn budget(&self, timeline: bool) -> Budget {
        Budget {
            max_events: self.max_events,
            max_memory: self.max_memory,
            parallel: if timeline { self.threads as f64 } else { 0.0 },
            threads: self.threads as f64,
        }
    }

    /// Loads the scenario (a variant of it) with every override, the seed and replication
    /// count from the flags, and refuses it when its estimated work is over the budget; the
    /// scenario carries the runtime limits of that budget.
    pub fn load(&self, variant: Option<&str>, timeline: bool) -> Result<Scenario, CliError> {
        let mut sc = crate::scenario::load(&self.scenario, variant, &self.sets)?;
        if let Some(s) = self.seed {
            sc.seed = s;
        }
        if let Some(n) = self.replications {
            sc.replications = n;
        }
        let label = sc
            .variant
            .as_ref()
            .map(|v| format!(" (variant {v})"))
            .unwrap_or_default();
        let budget = self.budget(timeline);
        crate::budget::check_budget(&sc.model, &budget)
            .with_context(|| format!("{}{label}", self.scenario.display()))?;
        sc.limits = budget.limits();
        Ok(sc)
    }

    /// Options for running the replications of `sc` (`timeline`: keep timeline rows).
    pub fn run_options(&self, sc: &Scenario, replications: u32, timeline: bool) -> RunOptions {
        RunOptions {
            seed: sc.seed,
            replications,
            threads: self.threads,
            progress: self.progress,
            label: sc.name.clone(),
            timeline,
        }
    }

    /// Options for evaluating work units under `seed`.
    pub fn eval_options(&self, seed: u64, label: &str) -> EvalOptions {
        EvalOptions {
            seed,
            threads: self.threads,
            progress: self.progress,
            label: label.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn settings(args: &[&str]) -> Result<Settings, CliError> {
        let mut argv = vec!["callsim", "run", "s.toml"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Run(a) => Settings::new(&a.common),
            _ => unreachable!("run"),
        }
    }

    #[test]
    fn flags_are_checked_and_resolved_once() {
        let s = settings(&[
            "--set",
            "a.b=1",
            "--window",
            "peak=10:00-11:00",
            "--shard",
            "1/3",
            "--out",
            "d",
        ])
        .unwrap();
        assert_eq!(s.user_sets, ["a.b=1"]);
        assert_eq!(s.sets, ["a.b=1", "windows.peak=[\"10:00\",\"11:00\"]"]);
        assert_eq!(s.shard, Some(Shard { index: 1, count: 3 }));
        assert!(s.threads >= 1 && s.max_memory > 0.0);
        let more = s.with_sets(["x=2".to_string()]);
        assert_eq!(more.sets.len(), 3);
        assert_eq!(s.sets.len(), 2, "with_sets leaves the original alone");
        assert_eq!(
            settings(&["--threads", "3"]).unwrap().budget(true).parallel,
            3.0
        );
        assert_eq!(
            settings(&["--threads", "3"])
                .unwrap()
                .budget(false)
                .parallel,
            0.0
        );
    }

    #[test]
    fn bad_common_flags_are_input_errors_naming_the_flag() {
        for (args, flag) in [
            (&["--window", "peak"][..], "--window"),
            (&["--shard", "3/3", "--out", "d"], "shard"),
        ] {
            let e = settings(args).unwrap_err();
            assert_eq!(e.code(), 2, "{e}");
            assert!(e.to_string().contains(flag), "{args:?}: {e}");
        }
    }
}
