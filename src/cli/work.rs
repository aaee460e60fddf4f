//! What `compare`, `sweep` and `plan` share: evaluating their work units (all of them, or one
//! shard's, written to a shard file), and the manifest every output folder gets.

use super::settings::Settings;
use super::{result_args, CliError};
use crate::batch::{
    all_units, evaluate, file_sha256, write_shard, Config, ShardHeader, UnitValues, SHARD_FORMAT,
};
use crate::export::OutputFiles;
use serde::Serialize;
use std::path::Path;

/// Evaluates every unit of `configs` x `reps` and returns their values in canonical order; or,
/// with `--shard`, evaluates one shard's units, writes `OUT/shard-I-of-N.csv` and returns None.
/// Bytes of a row of a `sweep.csv` or `compare.csv` (point, lever values, metric, estimates),
/// and of one value in a shard file: generous averages, for --max-output's estimate.
const TABLE_ROW_BYTES: f64 = 160.0;
const SHARD_VALUE_BYTES: f64 = 24.0;

/// --max-output for a sweep or compare: its table (a row per point and metric) or, with
/// --shard, its shard file (every replication's values). Nothing is written without --out.
fn check_output(configs: &[Config], c: &Settings, reps: u32, out: bool) -> Result<(), CliError> {
    if !out {
        return Ok(());
    }
    let values: f64 = configs.iter().map(|k| k.names().len() as f64).sum();
    let (bytes, what) = match c.shard {
        Some(s) => {
            let share = f64::from(reps) / f64::from(s.count.max(1));
            (
                values * share.ceil() * SHARD_VALUE_BYTES,
                format!(
                    "the shard file would hold {} values",
                    crate::budget::sci(values * share.ceil())
                ),
            )
        }
        None => (
            values * TABLE_ROW_BYTES,
            format!(
                "the table would hold {} rows ({} points or variants)",
                crate::budget::sci(values),
                configs.len()
            ),
        ),
    };
    c.check_output(bytes, &what)
}

pub fn evaluate_or_shard(
    configs: &[Config],
    c: &Settings,
    seed: u64,
    reps: u32,
    out: Option<&Path>,
    argv: &[String],
    label: &str,
) -> Result<Option<Vec<UnitValues>>, CliError> {
    let all = all_units(configs.len(), reps);
    let opts = c.eval_options(seed, label);
    check_output(configs, c, reps, out.is_some())?;
    let Some(shard) = c.shard else {
        return evaluate(configs, &all, &opts).map(Some);
    };
    let out = out.ok_or_else(|| CliError::input("--shard needs --out DIR for its shard file"))?;
    let header = ShardHeader {
        format: SHARD_FORMAT,
        callsim_version: env!("CARGO_PKG_VERSION").to_string(),
        args: result_args(argv),
        scenario: c.scenario.display().to_string(),
        scenario_sha256: file_sha256(&c.scenario).map_err(CliError::input)?,
        seed,
        replications: reps,
        configs: configs.len() as u32,
        units: all.len() as u64,
        shard_index: shard.index,
        shard_count: shard.count,
    };
    let mine = shard.select(&all);
    let mut files = OutputFiles::shared(out).map_err(CliError::input)?;
    let values = evaluate(configs, &mine, &opts)?;
    let name = shard.file_name();
    let w = files.create(&name).map_err(CliError::failure)?;
    write_shard(w, &header, configs, &values).map_err(CliError::failure)?;
    files.commit().map_err(CliError::failure)?;
    crate::sayln!(
        "shard {} of {}: {} of {} replications; wrote {name} in {} (merge with `callsim merge`)",
        shard.index,
        shard.count,
        mine.len(),
        all.len(),
        out.display()
    );
    Ok(None)
}

/// `manifest.json`: what made an output folder's files, so a report or a reader can say how to
/// reproduce them.
#[derive(Serialize)]
pub struct Manifest {
    pub format: u32,
    pub callsim_version: String,
    pub kind: String,
    pub command: String,
    pub scenario: String,
    pub scenario_name: String,
    pub scenario_description: String,
    pub scenario_sha256: String,
    pub seed: u64,
    pub replications: u32,
    pub variant: Option<String>,
    pub variants: Vec<String>,
    pub sets: Vec<String>,
    pub windows: Vec<WindowEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Why a plan's answer is uncertain, or why there is none (plan only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_note: Option<String>,
    pub files: Vec<String>,
}

#[derive(Serialize)]
pub struct WindowEntry {
    pub name: String,
    pub start: String,
    pub end: String,
}

impl Manifest {
    /// A manifest for `kind` made by the result arguments `args` (as in a shard header) into
    /// `out`.
    pub fn new(
        kind: &str,
        args: &[String],
        out: &Path,
        sc: &crate::scenario::Scenario,
        c: &Settings,
    ) -> Result<Manifest, CliError> {
        let mut words: Vec<String> = vec!["callsim".into()];
        words.extend(args.iter().cloned());
        words.push("--out".into());
        words.push(out.display().to_string());
        Ok(Manifest {
            format: 1,
            callsim_version: env!("CARGO_PKG_VERSION").to_string(),
            kind: kind.to_string(),
            command: words
                .iter()
                .map(|w| shell_quote(w))
                .collect::<Vec<_>>()
                .join(" "),
            scenario: c.scenario.display().to_string(),
            scenario_name: sc.name.clone(),
            scenario_description: sc.description.clone(),
            scenario_sha256: file_sha256(&c.scenario).map_err(CliError::input)?,
            seed: sc.seed,
            replications: sc.replications,
            variant: sc.variant.clone(),
            variants: Vec::new(),
            sets: c.user_sets.clone(),
            windows: sc
                .model
                .windows
                .iter()
                .map(|w| WindowEntry {
                    name: w.name.clone(),
                    start: w.start.clock_hhmmss(),
                    end: w.end.clock_hhmmss(),
                })
                .collect(),
            answer: None,
            answer_note: None,
            files: Vec::new(),
        })
    }

    /// Adds manifest.json (listing the other files) to `files`.
    pub fn write(mut self, files: &mut OutputFiles) -> Result<(), CliError> {
        let mut names = files.pending_names();
        names.push("manifest.json".into());
        self.files = names;
        let text =
            serde_json::to_string_pretty(&self).map_err(|e| CliError::failure(e.to_string()))?;
        let mut w = files.create("manifest.json").map_err(CliError::failure)?;
        use std::io::Write;
        w.write_all(text.as_bytes())
            .and_then(|_| w.write_all(b"\n"))
            .and_then(|_| w.flush())
            .map_err(|e| CliError::failure(format!("writing manifest.json: {e}")))
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}
