//! Work units and shards. A command's work is a list of configurations (a sweep point, a
//! variant, or both) times replications; each unit is one replication of one configuration and
//! yields its metric values. Units run on a rayon pool (results in unit order, the first error
//! stops the run), or a shard `I/N` runs every unit whose index is `I` modulo `N` and writes its
//! raw values to a shard file that `callsim merge` reassembles exactly.
//!
//! Common random numbers: every configuration runs replications 0..R under the same master
//! seed, so a caller draws the same arrival and patience in every configuration.

use crate::metrics::{columns, values, RepValues, ValueKind};
use crate::scenario::Scenario;
use crate::stats::{detail_metrics, detail_names};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One configuration of a command: a scenario with its overrides applied, and its label.
pub struct Config {
    pub label: String,
    pub scenario: Scenario,
}

impl Config {
    /// The metric names of this configuration's units: registry columns (with windows), then
    /// per-tenant and per-stage metrics, then each alert rule's values (`alerts::VALUE_KINDS`).
    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = columns(&self.scenario.model)
            .into_iter()
            .map(|c| c.name)
            .collect();
        n.extend(detail_names(&self.scenario.model));
        n.extend(crate::alerts::value_names(&self.scenario.model.alerts));
        n
    }

    /// What each of `names()` can be in one replication (what `merge` accepts in a shard).
    pub fn kinds(&self) -> Vec<ValueKind> {
        let m = &self.scenario.model;
        let mut k: Vec<ValueKind> = columns(m).iter().map(|c| c.def().kind()).collect();
        k.extend(crate::stats::detail_kinds(m));
        k.extend(crate::alerts::value_kinds(&m.alerts));
        k
    }
}

/// One unit of work: replication `replication` of configuration `config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unit {
    pub config: u32,
    pub replication: u32,
}

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `I/N` (0 <= I < N), or `auto`: Slurm job arrays (`SLURM_ARRAY_TASK_ID`,
    /// `SLURM_ARRAY_TASK_COUNT`) or Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX` with
    /// `CALLSIM_SHARD_COUNT`).
    pub fn parse(s: &str) -> Result<Shard, String> {
        Self::parse_with(s, &|k| std::env::var(k).ok())
    }

    pub fn parse_with(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let num = |v: &str, what: &str| -> Result<u32, String> {
            v.trim().parse::<u32>().map_err(|_| {
                format!("--shard: {what} `{v}` is not a whole number; expected I/N such as 0/4, or auto")
            })
        };
        let (i, n) = if s.trim() == "auto" {
            let pair = |a: &str, b: &str| Some((env(a)?, env(b)?));
            if let Some((i, n)) = pair("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT") {
                (
                    num(&i, "SLURM_ARRAY_TASK_ID")?,
                    num(&n, "SLURM_ARRAY_TASK_COUNT")?,
                )
            } else if let Some((i, n)) = pair("JOB_COMPLETION_INDEX", "CALLSIM_SHARD_COUNT") {
                (
                    num(&i, "JOB_COMPLETION_INDEX")?,
                    num(&n, "CALLSIM_SHARD_COUNT")?,
                )
            } else {
                return Err("--shard auto: found neither SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (a Slurm job array) nor JOB_COMPLETION_INDEX and CALLSIM_SHARD_COUNT (a Kubernetes Indexed Job); give --shard I/N instead".into());
            }
        } else {
            let Some((i, n)) = s.split_once('/') else {
                return Err(format!("--shard `{s}`: expected I/N such as 0/4 (shard I of N, counting from 0), or auto"));
            };
            (num(i, "index")?, num(n, "count")?)
        };
        if n == 0 || i >= n {
            return Err(format!(
                "--shard {i}/{n}: the index must be below the count (shards are numbered 0 to {})",
                n.saturating_sub(1)
            ));
        }
        Ok(Shard { index: i, count: n })
    }

    /// The units of `all` (in canonical order) this shard runs.
    pub fn select(&self, all: &[Unit]) -> Vec<Unit> {
        all.iter()
            .enumerate()
            .filter(|(u, _)| *u as u64 % self.count as u64 == self.index as u64)
            .map(|(_, x)| *x)
            .collect()
    }

    pub fn file_name(&self) -> String {
        format!("shard-{}-of-{}.csv", self.index, self.count)
    }
}

/// Every unit of `configs` x `replications`, in canonical order (configuration-major).
pub fn all_units(configs: usize, replications: u32) -> Vec<Unit> {
    (0..configs as u32)
        .flat_map(|c| {
            (0..replications).map(move |r| Unit {
                config: c,
                replication: r,
            })
        })
        .collect()
}

/// Options of one evaluation.
pub struct EvalOptions {
    pub seed: u64,
    /// Worker threads; 0 = all cores.
    pub threads: usize,
    /// Progress (with an ETA over all units) on stderr when it is a terminal.
    pub progress: bool,
    pub label: String,
}

/// The values of one unit, aligned with its configuration's `names()`.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitValues {
    pub unit: Unit,
    pub values: Vec<f64>,
}

/// Runs `units` of `configs` on a pool; results in the order of `units`. The first failing unit
/// stops the run and its error is returned.
pub fn evaluate(
    configs: &[Config],
    units: &[Unit],
    opts: &EvalOptions,
) -> crate::error::Result<Vec<UnitValues>> {
    use crate::error::{Context, Error};
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |p| p.get())
    } else {
        opts.threads
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.clamp(1, units.len().max(1)))
        .build()
        .map_err(|e| Error::failure(format!("cannot start worker threads: {e}")))?;
    let bar = progress_bar(units.len() as u64, opts);
    let no_sink =
        |_r: u32| -> crate::error::Result<Option<Box<dyn crate::model::CallSink + Send>>> {
            Ok(None)
        };
    let cols: Vec<_> = configs.iter().map(|c| columns(&c.scenario.model)).collect();
    let out = pool.install(|| {
        units
            .par_iter()
            .map(|u| {
                let cfg = &configs[u.config as usize];
                let r = crate::run::run_one_caught(
                    &cfg.scenario,
                    opts.seed,
                    u.replication,
                    false,
                    &no_sink,
                    &mut |_| {},
                )
                // run_one already names the replication.
                .with_context(|| cfg.label.to_string())?;
                let mut v = values(&cols[u.config as usize], &r.obs);
                v.extend(
                    detail_metrics(&r.obs, &cfg.scenario.model)
                        .into_iter()
                        .map(|x| x.1),
                );
                let m = &cfg.scenario.model;
                v.extend(crate::alerts::values(&m.alerts, m.start, &r.obs));
                bar.inc(1);
                Ok(UnitValues {
                    unit: *u,
                    values: v,
                })
            })
            .collect::<crate::error::Result<Vec<_>>>()
    });
    bar.finish_and_clear();
    out
}

fn progress_bar(len: u64, opts: &EvalOptions) -> ProgressBar {
    if !opts.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {percent:>3}%  {pos}/{len} replications  {elapsed} elapsed, ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("#>-"),
    );
    bar.set_prefix(opts.label.clone());
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// Groups unit values by configuration: `out[c]` holds configuration c's replications in
/// replication order.
pub fn by_config(configs: usize, units: Vec<UnitValues>) -> Vec<Vec<RepValues>> {
    let mut out: Vec<Vec<RepValues>> = (0..configs).map(|_| Vec::new()).collect();
    let mut units = units;
    units.sort_by_key(|u| u.unit);
    for u in units {
        out[u.unit.config as usize].push(RepValues {
            replication: u.unit.replication,
            values: u.values,
        });
    }
    out
}

/// What a shard file says about the work it belongs to: everything that must agree for shards
/// to be merged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHeader {
    pub format: u32,
    pub callsim_version: String,
    /// The command's arguments after `callsim`, without --shard, --out, --threads, --quiet.
    pub args: Vec<String>,
    pub scenario: String,
    pub scenario_sha256: String,
    pub seed: u64,
    pub replications: u32,
    pub configs: u32,
    pub units: u64,
    pub shard_index: u32,
    pub shard_count: u32,
}

pub const SHARD_FORMAT: u32 = 1;
const SHARD_MAGIC: &str = "# callsim shard ";

/// SHA-256 of a file's bytes, in hex.
pub fn file_sha256(path: &Path) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let mut f = crate::input::open_regular(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Writes one shard file: the header line, then one CSV row per unit and metric with the value
/// in shortest round-trip form (read back bit for bit).
pub fn write_shard(
    w: impl Write,
    header: &ShardHeader,
    configs: &[Config],
    units: &[UnitValues],
) -> Result<(), String> {
    let mut w = std::io::BufWriter::new(w);
    let json = serde_json::to_string(header).map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| format!("writing the shard file: {e}");
    writeln!(w, "{SHARD_MAGIC}{json}").map_err(io)?;
    writeln!(w, "config,replication,metric,value").map_err(io)?;
    let names: Vec<Vec<String>> = configs.iter().map(Config::names).collect();
    for u in units {
        for (n, v) in names[u.unit.config as usize].iter().zip(&u.values) {
            writeln!(w, "{},{},{},{:?}", u.unit.config, u.unit.replication, n, v).map_err(io)?;
        }
    }
    w.flush().map_err(io)
}

/// A shard file read back.
pub struct ShardFile {
    pub path: PathBuf,
    pub header: ShardHeader,
    /// (unit, metric name, value) in file order.
    pub rows: Vec<(Unit, String, f64)>,
}

/// Reads a shard file, with errors naming the file and line.
pub fn read_shard(path: &Path) -> Result<ShardFile, String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut lines = std::io::BufReader::new(f).lines();
    let at = |n: usize, m: String| format!("{}:{n}: {m}", path.display());
    let first = lines
        .next()
        .transpose()
        .map_err(|e| at(1, e.to_string()))?
        .unwrap_or_default();
    let Some(json) = first.strip_prefix(SHARD_MAGIC) else {
        return Err(at(1, "not a callsim shard file (it should start with `# callsim shard {...}`, as written by --shard)".into()));
    };
    let header: ShardHeader = serde_json::from_str(json).map_err(|e| {
        at(
            1,
            format!("unreadable shard header ({e}); was it written by another callsim version?"),
        )
    })?;
    if header.format != SHARD_FORMAT {
        return Err(at(
            1,
            format!(
                "shard format {} is not the format {SHARD_FORMAT} this callsim reads",
                header.format
            ),
        ));
    }
    let columns = lines
        .next()
        .transpose()
        .map_err(|e| at(2, e.to_string()))?
        .unwrap_or_default();
    if columns != "config,replication,metric,value" {
        return Err(at(
            2,
            format!(
                "expected the column line `config,replication,metric,value`, found `{columns}`"
            ),
        ));
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let i = i + 1;
        let line = line.map_err(|e| at(i + 2, e.to_string()))?;
        let parts: Vec<&str> = line.splitn(4, ',').collect();
        let bad = || {
            at(
                i + 2,
                format!("expected `config,replication,metric,value`, found `{line}`"),
            )
        };
        let [c, r, m, v] = parts[..] else {
            return Err(bad());
        };
        let (Ok(c), Ok(r), Ok(x)) = (c.parse::<u32>(), r.parse::<u32>(), v.parse::<f64>()) else {
            return Err(bad());
        };
        // `write_shard` writes every value in shortest round-trip form (`{:?}`: `12.0`, `0.25`,
        // `NaN`), and no metric is ever infinite.
        if x.is_infinite() || format!("{x:?}") != v {
            return Err(at(
                i + 2,
                format!("metric `{m}`: value `{v}` is not one callsim writes; expected a number in shortest round-trip form such as `12.0` or `0.25`, or `NaN`"),
            ));
        }
        let v = x;
        rows.push((
            Unit {
                config: c,
                replication: r,
            },
            m.to_string(),
            v,
        ));
    }
    Ok(ShardFile {
        path: path.to_path_buf(),
        header,
        rows,
    })
}

/// The shard files in `dirs` (every `shard-*-of-*.csv`), or the named files.
pub fn find_shards(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd =
                std::fs::read_dir(p).map_err(|e| format!("cannot list `{}`: {e}", p.display()))?;
            let mut found: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    let n = f
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    is_shard_name(&n)
                })
                .collect();
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!(
                "`{}` is neither a shard file nor a directory",
                p.display()
            ));
        }
    }
    if out.is_empty() {
        return Err("no shard files (shard-I-of-N.csv) found in the given directories".into());
    }
    Ok(out)
}

/// `shard-I-of-N.csv` exactly (not a run shard's row files such as `shard-0-of-2.timeline.csv`).
fn is_shard_name(n: &str) -> bool {
    let Some(mid) = n
        .strip_prefix("shard-")
        .and_then(|r| r.strip_suffix(".csv"))
    else {
        return false;
    };
    let Some((i, c)) = mid.split_once("-of-") else {
        return false;
    };
    !i.is_empty() && !c.is_empty() && i.chars().chain(c.chars()).all(|x| x.is_ascii_digit())
}

/// Joins the row files of a run's shards (`inputs[i]` from shard i) into `out`: the header
/// once, then every replication's rows in replication order (replication r is in shard
/// r mod N). Streams; rows are copied as parsed CSV records, which the csv crate writes back
/// byte for byte. Every row is checked by `check` (the header this scenario's run writes, the
/// field count, each cell, each replication's rows complete); errors name the file and line.
pub fn merge_rows(
    out: impl Write,
    inputs: &[PathBuf],
    replications: u32,
    check: &mut crate::export::RowCheck,
) -> Result<(), String> {
    let n = inputs.len();
    let mut readers = Vec::with_capacity(n);
    for p in inputs {
        let f = crate::input::csv_source(p)
            .map_err(|e| format!("{e} (a shard's row file is missing)"))?;
        readers.push(
            csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(f),
        );
    }
    let mut wr = csv::WriterBuilder::new().flexible(true).from_writer(out);
    let io = |p: &Path, e: csv::Error| format!("`{}`: {e}", p.display());
    let at = |i: usize, rec: &csv::ByteRecord| row_place(inputs, i, rec);
    let header = csv::ByteRecord::from(check.header().to_vec());
    let width = header.len();
    check_headers(&mut readers, inputs, &header, replications)?;
    wr.write_byte_record(&header).map_err(|e| e.to_string())?;
    let mut pending: Vec<Option<csv::ByteRecord>> = vec![None; n];
    for r in 0..replications {
        let i = r as usize % n;
        check.start(r);
        let mut lines: Option<(u64, u64)> = None;
        loop {
            if pending[i].is_none() {
                let mut rec = csv::ByteRecord::new();
                if !readers[i]
                    .read_byte_record(&mut rec)
                    .map_err(|e| io(&inputs[i], e))?
                {
                    break;
                }
                if rec.len() != width {
                    return Err(format!(
                        "{}: {} fields where the header has {width}: the row was cut short or edited",
                        at(i, &rec),
                        rec.len()
                    ));
                }
                pending[i] = Some(rec);
            }
            let rec = pending[i].as_ref().expect("read");
            let rep = std::str::from_utf8(&rec[1])
                .ok()
                .and_then(|v| v.parse::<u32>().ok());
            match rep {
                Some(x) if x == r => {
                    check.row(rec).map_err(|m| format!("{}: {m}", at(i, rec)))?;
                    let line = rec.position().map_or(0, |p| p.line());
                    lines = Some((lines.map_or(line, |l| l.0), line));
                    wr.write_byte_record(rec).map_err(|e| e.to_string())?;
                    pending[i] = None;
                }
                Some(x) if x > r && x < replications && x as usize % n == i => break,
                Some(x) => {
                    return Err(format!(
                        "{}: a row of replication {x} where a row of replication {r} or a later one of shard {i} of {n} (replications {i}, {}, ...) was expected: rows out of order, or another shard's file",
                        at(i, rec),
                        i + n
                    ))
                }
                None => {
                    return Err(format!(
                        "{}: column `replication` (field 2): `{}` is not a replication number",
                        at(i, rec),
                        String::from_utf8_lossy(&rec[1])
                    ))
                }
            }
        }
        check.end(r).map_err(|m| {
            let place = match lines {
                Some((a, b)) if a == b => format!("{}:{a}", inputs[i].display()),
                Some((a, b)) => format!("{}:{a}-{b}", inputs[i].display()),
                None => inputs[i].display().to_string(),
            };
            format!("{place}: replication {r}: {m}")
        })?;
    }
    no_rows_left(&mut readers, inputs, &pending, replications)?;
    wr.flush().map_err(|e| e.to_string())
}

/// `path:line` of a row of `inputs[i]`.
fn row_place(inputs: &[PathBuf], i: usize, rec: &csv::ByteRecord) -> String {
    let line = rec.position().map_or(0, |p| p.line());
    format!("{}:{line}", inputs[i].display())
}

/// Reads each shard row file's header and checks it is `header`; an empty file is refused
/// when its shard has replications.
fn check_headers<R: std::io::Read>(
    readers: &mut [csv::Reader<R>],
    inputs: &[PathBuf],
    header: &csv::ByteRecord,
    replications: u32,
) -> Result<(), String> {
    let (n, width) = (inputs.len(), header.len());
    for (i, r) in readers.iter_mut().enumerate() {
        let mut rec = csv::ByteRecord::new();
        if r.read_byte_record(&mut rec)
            .map_err(|e| format!("`{}`: {e}", inputs[i].display()))?
        {
            if &rec != header {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                let why = match (0..width.max(rec.len())).find(|&j| rec.get(j) != header.get(j)) {
                    Some(j) if j < rec.len() && j < width => format!(
                        "column {} is `{}`, expected `{}`",
                        j + 1,
                        text(&rec[j]),
                        text(&header[j])
                    ),
                    _ => format!("{} columns where {width} are expected", rec.len()),
                };
                return Err(format!(
                    "{}: the header is not the one this scenario's run writes ({why}); the file was changed or belongs to another scenario",
                    row_place(inputs, i, &rec)
                ));
            }
        } else if (i as u32) < replications {
            return Err(format!(
                "{}:1: the file is empty; expected its header and the rows of replication {i} and every {n}th after it: the shard did not finish, or the file was cut short",
                inputs[i].display()
            ));
        }
    }
    Ok(())
}

/// After the last replication no shard row file may hold another row.
fn no_rows_left<R: std::io::Read>(
    readers: &mut [csv::Reader<R>],
    inputs: &[PathBuf],
    pending: &[Option<csv::ByteRecord>],
    replications: u32,
) -> Result<(), String> {
    for (i, p) in pending.iter().enumerate() {
        let mut rec = csv::ByteRecord::new();
        let extra = match p {
            Some(rec) => Some(rec.clone()),
            None => readers[i]
                .read_byte_record(&mut rec)
                .map_err(|e| format!("`{}`: {e}", inputs[i].display()))?
                .then_some(rec),
        };
        if let Some(rec) = extra {
            return Err(format!(
                "{}: a row beyond the shard's replications (the run has {replications})",
                row_place(inputs, i, &rec)
            ));
        }
    }
    Ok(())
}

/// Checks that `shards` belong together and are complete, and returns their header (with
/// shard_index 0) and every unit's values in canonical order.
/// `names[c]` and `kinds[c]` are configuration c's metric names and what each can be
/// (`Config::names`, `Config::kinds`): a value no replication can have is refused.
pub fn assemble(
    shards: Vec<ShardFile>,
    names: &[Vec<String>],
    kinds: &[Vec<ValueKind>],
) -> Result<Vec<UnitValues>, String> {
    let first = &shards[0];
    let n = first.header.shard_count;
    let mut seen: Vec<Option<&Path>> = vec![None; n as usize];
    for s in &shards {
        check_same(&first.header, &first.path, &s.header, &s.path)?;
        let i = s.header.shard_index as usize;
        if i >= seen.len() {
            return Err(format!(
                "{}: shard index {i} is not below the count {n}",
                s.path.display()
            ));
        }
        if let Some(p) = seen[i] {
            return Err(format!(
                "shard {i} of {n} appears twice: `{}` and `{}`",
                p.display(),
                s.path.display()
            ));
        }
        seen[i] = Some(&s.path);
    }
    let missing: Vec<String> = (0..n as usize)
        .filter(|i| seen[*i].is_none())
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing shard{} {} of {n} (expected files such as shard-{}-of-{n}.csv); run them or point merge at their directory",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            missing[0]
        ));
    }
    let h = &first.header;
    let all = all_units(h.configs as usize, h.replications);
    let mut out = Vec::with_capacity(all.len());
    let mut by_shard: Vec<Option<ShardFile>> = (0..n).map(|_| None).collect();
    for s in shards {
        let i = s.header.shard_index as usize;
        by_shard[i] = Some(s);
    }
    let mut cursors = vec![0usize; n as usize];
    for (u, unit) in all.iter().enumerate() {
        let si = u % n as usize;
        let s = by_shard[si].as_ref().expect("complete");
        let want = &names[unit.config as usize];
        let mut values = Vec::with_capacity(want.len());
        for (name, kind) in want.iter().zip(&kinds[unit.config as usize]) {
            let k = cursors[si];
            match s.rows.get(k) {
                Some((got, m, v)) if got == unit && m == name => {
                    if !kind.admits(*v) {
                        return Err(format!(
                            "{}:{}: metric `{m}` of config {} replication {} is {v:?}; expected {}: no replication gives that, so the file was changed",
                            s.path.display(), k + 3, unit.config, unit.replication, kind.expected()
                        ));
                    }
                    values.push(*v)
                }
                Some((got, m, _)) => {
                    return Err(format!(
                        "{}:{}: this row is config {} replication {} metric `{m}`, expected config {} replication {} metric `{name}`: the file was changed or written by another command",
                        s.path.display(), k + 3, got.config, got.replication, unit.config, unit.replication
                    ))
                }
                None => {
                    return Err(format!(
                        "{}: ends early (config {} replication {} is missing): the shard did not finish",
                        s.path.display(), unit.config, unit.replication
                    ))
                }
            }
            cursors[si] += 1;
        }
        out.push(UnitValues {
            unit: *unit,
            values,
        });
    }
    for (si, s) in by_shard.iter().enumerate() {
        let s = s.as_ref().expect("complete");
        if cursors[si] != s.rows.len() {
            return Err(format!(
                "{}: has {} rows more than its units need",
                s.path.display(),
                s.rows.len() - cursors[si]
            ));
        }
    }
    Ok(out)
}

fn check_same(a: &ShardHeader, ap: &Path, b: &ShardHeader, bp: &Path) -> Result<(), String> {
    let differ = |what: &str, x: String, y: String| {
        Err(format!(
            "`{}` and `{}` do not belong together: {what} differ ({x} against {y})",
            ap.display(),
            bp.display()
        ))
    };
    if a.callsim_version != b.callsim_version {
        return differ(
            "callsim versions",
            a.callsim_version.clone(),
            b.callsim_version.clone(),
        );
    }
    if a.scenario_sha256 != b.scenario_sha256 || a.scenario != b.scenario {
        return differ(
            "the scenarios",
            format!("{} sha256 {:.12}", a.scenario, a.scenario_sha256),
            format!("{} sha256 {:.12}", b.scenario, b.scenario_sha256),
        );
    }
    if a.seed != b.seed {
        return differ("the seeds", a.seed.to_string(), b.seed.to_string());
    }
    if a.args != b.args || a.replications != b.replications || a.configs != b.configs {
        return differ(
            "the commands (overrides, points or replications)",
            a.args.join(" "),
            b.args.join(" "),
        );
    }
    if a.shard_count != b.shard_count || a.units != b.units {
        return differ(
            "the shard counts",
            a.shard_count.to_string(),
            b.shard_count.to_string(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_and_say_what_is_wrong() {
        let none = |_: &str| None;
        assert_eq!(
            Shard::parse_with("1/3", &none).unwrap(),
            Shard { index: 1, count: 3 }
        );
        assert!(Shard::parse_with("3/3", &none)
            .unwrap_err()
            .contains("below the count"));
        assert!(Shard::parse_with("0/0", &none).is_err());
        assert!(Shard::parse_with("x/3", &none)
            .unwrap_err()
            .contains("not a whole number"));
        assert!(Shard::parse_with("auto", &none)
            .unwrap_err()
            .contains("SLURM_ARRAY_TASK_ID"));
        let slurm = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("2".to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some("4".to_string()),
            _ => None,
        };
        assert_eq!(
            Shard::parse_with("auto", &slurm).unwrap(),
            Shard { index: 2, count: 4 }
        );
        let k8s = |k: &str| match k {
            "JOB_COMPLETION_INDEX" => Some("0".to_string()),
            "CALLSIM_SHARD_COUNT" => Some("7".to_string()),
            _ => None,
        };
        assert_eq!(
            Shard::parse_with("auto", &k8s).unwrap(),
            Shard { index: 0, count: 7 }
        );
    }

    #[test]
    fn shards_partition_the_units() {
        let all = all_units(3, 5);
        for n in 1..=7u32 {
            let mut got: Vec<Unit> = (0..n)
                .flat_map(|i| Shard { index: i, count: n }.select(&all))
                .collect();
            got.sort();
            assert_eq!(got, all, "{n} shards");
        }
    }
}
