//! Scenario files: TOML text -> (variant and `--set` overrides merged) -> validated
//! `ModelConfig`. Every error names the file, line, key path and what was expected.
//!
//! The only module besides `cli`/`export` that touches files (the scenario, traces, empirical
//! distributions). Depends on model config types, dist, limiter specs and time parsing.

pub mod alerts;
pub mod levers;
pub mod platform;
pub mod reader;
pub mod schema;
pub mod spans;
pub mod trace;

use crate::dist::{CountDist, DurationDist, RateProfile};
use crate::limiter::LimiterSpec;
use crate::model::config::*;
use crate::time::{parse_clock, parse_duration, parse_rate, SimDuration, SimTime, NS_PER_S};
pub use reader::ScenarioError;
use reader::{describe, join, Ctx, Obj, Origin, Result};
use spans::{line_of_offset, line_starts};
use std::path::Path;
use std::sync::Arc;

/// A loaded, validated scenario (one variant of it).
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub path: std::path::PathBuf,
    pub seed: u64,
    pub replications: u32,
    /// The variant applied, if any.
    pub variant: Option<String>,
    /// Every variant the file defines, in file order.
    pub variants: Vec<String>,
    /// The queueing model this file is a validation case of (`[validation] model = ...`).
    pub validation: Option<String>,
    pub model: ModelConfig,
    /// What one replication may use (set by the command from its budget; none by default).
    pub limits: crate::model::Limits,
    /// `[levers]`: the keys a what-if dashboard offers as controls.
    pub levers: Vec<levers::LeverSpec>,
}

pub const DEFAULT_SEED: u64 = 1;
pub const DEFAULT_REPLICATIONS: u32 = 1;

/// Loads `path`, applies `variant` (if any) and then each `key=value` of `sets`, and validates.
pub fn load(path: &Path, variant: Option<&str>, sets: &[String]) -> Result<Scenario> {
    let text =
        crate::input::read_text(path, crate::input::MAX_TEXT_BYTES).map_err(|e| ScenarioError {
            file: path.to_path_buf(),
            line: None,
            key: None,
            origin: None,
            message: format!("cannot read the scenario file: {e}"),
        })?;
    load_str(path, &text, variant, sets)
}

/// As `load`, from text already read (`path` names it in errors and anchors relative files).
pub fn load_str(
    path: &Path,
    text: &str,
    variant: Option<&str>,
    sets: &[String],
) -> Result<Scenario> {
    let sc = load_one(path, text, variant, sets)?;
    // Every variant is validated by every command: a typo in a variant not chosen this time is
    // still an error now, not in a later compare.
    for v in &sc.variants {
        if Some(v.as_str()) != variant {
            load_one(path, text, Some(v), sets)?;
        }
    }
    Ok(sc)
}

fn load_one(path: &Path, text: &str, variant: Option<&str>, sets: &[String]) -> Result<Scenario> {
    let ctx = Ctx::new(path, text);
    let mut doc = parse_doc(&ctx, path, text)?;
    // Variants are overrides of any key, merged before --set.
    let (variants_tbl, variant_sets) = take_variants(&ctx, path, &mut doc, sets)?;
    let variants: Vec<String> = variants_tbl.keys().cloned().collect();
    if let Some(name) = variant {
        apply_variant(
            &ctx,
            &mut doc,
            &variants_tbl,
            &variant_sets,
            &variants,
            name,
        )?;
    }
    apply_sets(&ctx, path, &mut doc, sets)?;
    build(&ctx, &doc, variant, variants)
}

/// The file's text as a TOML table; an empty file or invalid TOML is an error with its line.
fn parse_doc(ctx: &Ctx, path: &Path, text: &str) -> Result<toml::Table> {
    if text.trim().is_empty() {
        return Err(ctx.err(
            "",
            "the file is empty; a scenario needs at least `start`, `end`, a [carriers.NAME] table and a [sources.NAME] table (see scenarios/ for examples)",
        ));
    }
    toml::from_str(text).map_err(|e| {
        let starts = line_starts(text);
        let line = e.span().map(|s| line_of_offset(&starts, s.start));
        ScenarioError {
            file: path.to_path_buf(),
            line,
            key: None,
            origin: None,
            message: format!("invalid TOML: {}", e.message().trim()),
        }
    })
}

/// For each `--set variants.NAME.KEY=VALUE`: (variant, key path inside it).
type VariantSets = Vec<(String, String)>;

/// Removes `[variants]` from `doc` and applies each `--set variants.NAME.KEY=VALUE` to it;
/// returns the variants and the `VariantSets`.
fn take_variants(
    ctx: &Ctx,
    path: &Path,
    doc: &mut toml::Table,
    sets: &[String],
) -> Result<(toml::Table, VariantSets)> {
    let variants_tbl = match doc.remove("variants") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t,
        Some(v) => {
            return Err(ctx.err(
                "variants",
                format!("expected a table of named variants, found {}", describe(&v)),
            ))
        }
    };
    let mut variants_tbl = variants_tbl;
    // `--set variants.NAME.KEY=VALUE` changes a variant (and applies when it is chosen).
    let mut variant_sets: Vec<(String, String)> = Vec::new();
    for s in sets
        .iter()
        .filter(|s| s.trim_start().starts_with("variants."))
    {
        let (k, ov) = parse_set(s).map_err(|m| ScenarioError {
            file: path.to_path_buf(),
            line: None,
            key: None,
            origin: Some(format!("--set {s}")),
            message: m,
        })?;
        let toml::Value::Table(inner) = &ov["variants"] else {
            unreachable!("parse_set nests by key path")
        };
        let name = inner.keys().next().cloned().unwrap_or_default();
        if !variants_tbl.contains_key(&name) {
            return Err(ScenarioError {
                file: path.to_path_buf(),
                line: None,
                key: Some(k),
                origin: Some(format!("--set {s}")),
                message: format!(
                    "no variant named `{name}` to change; variants: {}",
                    variants_tbl.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        variant_sets.push((
            name,
            k.split_once('.')
                .map(|x| x.1)
                .unwrap_or("")
                .split_once('.')
                .map(|x| x.1.to_string())
                .unwrap_or_default(),
        ));
        merge(&mut variants_tbl, inner);
    }
    Ok((variants_tbl, variant_sets))
}

/// Merges variant `name` into `doc`, recording where each overridden key came from.
fn apply_variant(
    ctx: &Ctx,
    doc: &mut toml::Table,
    variants_tbl: &toml::Table,
    variant_sets: &[(String, String)],
    variants: &[String],
    name: &str,
) -> Result<()> {
    let Some(ov) = variants_tbl.get(name) else {
        let list = if variants.is_empty() {
            "the file defines none".to_string()
        } else {
            variants.join(", ")
        };
        return Err(ctx.err(
            "variants",
            format!("no variant named `{name}`; variants: {list}"),
        ));
    };
    let toml::Value::Table(ov) = ov else {
        return Err(ctx.err(
            &format!("variants.{name}"),
            format!("expected a table of overrides, found {}", describe(ov)),
        ));
    };
    let ov = expand_dotted(ov);
    for leaf in leaf_paths(&ov, "") {
        let from_set = variant_sets
            .iter()
            .any(|(v, k)| v == name && (leaf == *k || leaf.starts_with(&format!("{k}."))));
        let line = ctx.map.line_of(&format!("variants.{name}.{leaf}"));
        ctx.overrides.borrow_mut().push((
            leaf,
            Origin {
                label: if from_set {
                    format!("--set into variant `{name}`")
                } else {
                    format!("variant `{name}`")
                },
                line: if from_set { None } else { line },
            },
        ));
    }
    merge(doc, &ov);
    Ok(())
}

/// Merges each `--set KEY=VALUE` (other than into a variant) into `doc`, recording its origin.
fn apply_sets(ctx: &Ctx, path: &Path, doc: &mut toml::Table, sets: &[String]) -> Result<()> {
    for s in sets
        .iter()
        .filter(|s| !s.trim_start().starts_with("variants."))
    {
        let (k, ov) = parse_set(s).map_err(|m| ScenarioError {
            file: path.to_path_buf(),
            line: None,
            key: None,
            origin: Some(format!("--set {s}")),
            message: m,
        })?;
        ctx.overrides.borrow_mut().push((
            k,
            Origin {
                label: format!("--set {s}"),
                line: None,
            },
        ));
        merge(doc, &ov);
    }
    Ok(())
}

/// Parses `key.path=value`: the value as a TOML value if it is one, else as a string (so
/// `--set carriers.main.rate=30/s` works unquoted).
pub fn parse_set(s: &str) -> std::result::Result<(String, toml::Table), String> {
    let Some((k, v)) = s.split_once('=') else {
        return Err(format!(
            "bad --set `{s}`: expected KEY=VALUE, e.g. --set carriers.primary.rate=30/s"
        ));
    };
    let k = k.trim();
    if k.is_empty() || k.split('.').any(|p| p.trim().is_empty()) {
        return Err(format!("bad --set `{s}`: the key `{k}` is empty or has an empty part; expected e.g. carriers.primary.rate"));
    }
    let v = v.trim();
    let value = match toml::from_str::<toml::Table>(&format!("v = {v}")) {
        // Clock times such as 13:00:00 parse as TOML times; scenarios write them as strings.
        Ok(t) if matches!(t.get("v"), Some(toml::Value::Datetime(_))) => {
            toml::Value::String(v.to_string())
        }
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(v.to_string()),
    };
    let mut t = toml::Table::new();
    let parts: Vec<&str> = k.split('.').map(str::trim).collect();
    insert_path(&mut t, &parts, value);
    Ok((parts.join("."), t))
}

fn insert_path(t: &mut toml::Table, parts: &[&str], value: toml::Value) {
    if parts.len() == 1 {
        t.insert(parts[0].to_string(), value);
        return;
    }
    let e = t
        .entry(parts[0].to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !e.is_table() {
        *e = toml::Value::Table(toml::Table::new());
    }
    insert_path(e.as_table_mut().expect("table"), &parts[1..], value);
}

/// Quoted keys containing dots ("carriers.main.rate" = ...) become nested tables.
pub fn expand_dotted(t: &toml::Table) -> toml::Table {
    let mut out = toml::Table::new();
    for (k, v) in t {
        let v = match v {
            toml::Value::Table(inner) => toml::Value::Table(expand_dotted(inner)),
            other => other.clone(),
        };
        let parts: Vec<&str> = k.split('.').collect();
        if parts.len() > 1 {
            let mut nested = toml::Table::new();
            insert_path(&mut nested, &parts, v);
            merge(&mut out, &nested);
        } else if let (Some(toml::Value::Table(a)), toml::Value::Table(b)) = (out.get_mut(k), &v) {
            let b = b.clone();
            merge(a, &b);
        } else {
            out.insert(k.clone(), v);
        }
    }
    out
}

/// Deep merge: tables merge key by key; anything else (arrays included) is replaced, and so is
/// a table by an explicitly empty one (`leak_mb = {}` clears it rather than changing nothing).
pub fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if !o.is_empty() => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Dotted paths of every non-table value in `t`.
fn leaf_paths(t: &toml::Table, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in t {
        let p = join(prefix, k);
        match v {
            toml::Value::Table(inner) if !inner.is_empty() => out.extend(leaf_paths(inner, &p)),
            _ => out.push(p),
        }
    }
    out
}

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "replications",
    "start",
    "end",
    "duration",
    "drain",
    "warmup",
    "calls",
    "timeline_interval",
    "sources",
    "carriers",
    "backup",
    "changes",
    "variants",
    "validation",
    "stages",
    "dependencies",
    "windows",
    "levers",
    "alerts",
];

/// The top-level keys that are plain values: the run's name, seed, clock and limits.
struct Header {
    name: String,
    description: String,
    seed: u64,
    replications: u32,
    start: SimTime,
    end: SimTime,
    drain: SimDuration,
    warmup: SimDuration,
    max_calls: Option<u64>,
    interval: SimDuration,
}

fn build(
    ctx: &Ctx,
    doc: &toml::Table,
    variant: Option<&str>,
    variants: Vec<String>,
) -> Result<Scenario> {
    let top = Obj::new(ctx, "", doc);
    let h = build_header(&top)?;

    // Carriers, dependencies and stages first: sources refer to them by name. Carriers are
    // needed only by call sources (request-only scenarios have none).
    let empty = toml::Table::new();
    let carriers_obj = top
        .table_opt("carriers")?
        .unwrap_or_else(|| Obj::new(ctx, "carriers", &empty));
    let carriers = each_table(&carriers_obj, "carrier", build_carrier)?;
    let carrier_names: Vec<String> = carriers_obj.table.keys().cloned().collect();

    let mut dependencies = Vec::new();
    if let Some(dobj) = top.table_opt("dependencies")? {
        dependencies = each_table(&dobj, "dependency", platform::build_dependency)?;
    }
    let mut stages = Vec::new();
    let mut stage_names = Vec::new();
    if let Some(sobj) = top.table_opt("stages")? {
        stages = each_table(&sobj, "stage", |o, sname| {
            platform::build_stage(o, sname, &dependencies)
        })?;
        stage_names = sobj.table.keys().cloned().collect();
    }

    let sources = build_sources(&top, h.start, &carrier_names, &stage_names)?;
    let backup = match top.table_opt("backup")? {
        Some(b) => build_backup(&b)?,
        None => BackupConfig {
            policy: BackupPolicy::Off,
        },
    };
    let validation = build_validation(&top)?;
    let names = Names {
        carriers: &carrier_names,
        sources: &sources,
        stages: &stage_names,
        dependencies: &dependencies,
    };
    let changes = build_changes(ctx, &top, doc, &names, h.start)?;
    let windows = build_windows(&top, h.start, h.end.plus(h.drain))?;
    let levers = levers::build_levers(&top)?;
    let alerts = alerts::build_alerts(&top, h.interval)?;
    top.finish(TOP_KEYS)?;

    let model = ModelConfig {
        start: h.start,
        end: h.end,
        drain: h.drain,
        warmup: h.warmup,
        max_calls: h.max_calls,
        interval: h.interval,
        sources,
        carriers,
        backup,
        stages,
        dependencies,
        changes,
        windows,
        alerts,
    };
    Ok(Scenario {
        name: h.name,
        description: h.description,
        path: ctx.file.clone(),
        seed: h.seed,
        replications: h.replications,
        variant: variant.map(str::to_string),
        variants,
        validation,
        model,
        limits: crate::model::Limits::NONE,
        levers,
    })
}

/// Reads the top-level plain keys, checking each against the others (the run ends after it
/// starts, the warm-up ends before the run does, the timeline stays bounded).
fn build_header(top: &Obj) -> Result<Header> {
    let name = top
        .str_opt("name")?
        .unwrap_or("unnamed scenario")
        .to_string();
    let description = top.str_opt("description")?.unwrap_or("").to_string();
    let seed = top.u64_opt("seed")?.unwrap_or(DEFAULT_SEED);
    let replications = top
        .positive_u64_opt("replications")?
        .unwrap_or(DEFAULT_REPLICATIONS as u64);
    if replications > 100_000 {
        return Err(top.err(
            "replications",
            format!("{replications} is more than the 100000 allowed"),
        ));
    }
    let start = match top.str_opt("start")? {
        Some(s) => parse_clock(s).map_err(|m| top.err("start", m))?,
        None => SimTime::ZERO,
    };
    let end = match (top.str_opt("end")?, top.str_opt("duration")?) {
        (Some(_), Some(_)) => {
            return Err(top.err(
                "duration",
                "give either `end` (a clock time) or `duration`, not both",
            ))
        }
        (Some(e), None) => parse_clock(e).map_err(|m| top.err("end", m))?,
        (None, Some(d)) => start.plus(parse_duration(d).map_err(|m| top.err("duration", m))?),
        (None, None) => return Err(top.missing("end", "\"18:00\" (or duration = \"6h\")")),
    };
    if end <= start {
        let k = if top.has("end") { "end" } else { "duration" };
        return Err(top.err(
            k,
            format!(
                "the run must end after it starts: end {} <= start {}",
                end.clock_hhmmss(),
                start.clock_hhmmss()
            ),
        ));
    }
    let drain = dur_key(top, "drain")?.unwrap_or(SimDuration::from_secs(4 * 3600));
    let max_calls = top.positive_u64_opt("calls")?;
    let warmup = dur_key(top, "warmup")?.unwrap_or(SimDuration::ZERO);
    if start.plus(warmup) >= end {
        return Err(top.err("warmup", "the warm-up must end before the run does"));
    }
    let interval = dur_key(top, "timeline_interval")?.unwrap_or(SimDuration::from_secs(60));
    if interval == SimDuration::ZERO {
        return Err(top.err("timeline_interval", "expected a duration > 0, e.g. \"1m\""));
    }
    if (end.as_ns() - start.as_ns()) / interval.as_ns() > 10_000_000 {
        return Err(top.err(
            "timeline_interval",
            "the run would have more than 10 million timeline rows; use a longer interval",
        ));
    }
    Ok(Header {
        name,
        description,
        seed,
        replications: replications as u32,
        start,
        end,
        drain,
        warmup,
        max_calls,
        interval,
    })
}

/// Builds each `[section.NAME]` entry of `obj` with `f`, in file order; an entry that is not a
/// table is an error naming what it should describe (`what`, e.g. "carrier").
fn each_table<'a, T>(
    obj: &Obj<'a>,
    what: &str,
    mut f: impl FnMut(&Obj<'a>, &str) -> Result<T>,
) -> Result<Vec<T>> {
    let mut built = Vec::new();
    for (name, v) in obj.table {
        let _ = obj.get(name);
        let path = join(&obj.path, name);
        let toml::Value::Table(t) = v else {
            return Err(obj.ctx.err(
                &path,
                format!(
                    "expected a table describing {what} `{name}`, found {}",
                    describe(v)
                ),
            ));
        };
        built.push(f(&Obj::new(obj.ctx, path, t), name)?);
    }
    Ok(built)
}

/// `[sources.NAME]`: at least one; each names its carriers and stages, which exist by now.
fn build_sources(
    top: &Obj,
    start: SimTime,
    carrier_names: &[String],
    stage_names: &[String],
) -> Result<Vec<SourceConfig>> {
    let sources_obj = top.table_opt("sources")?.ok_or_else(|| {
        top.missing(
            "sources",
            "{ customers = { rate = \"8/s\" } }  (a [sources.NAME] table)",
        )
    })?;
    if sources_obj.table.is_empty() {
        return Err(top.err(
            "sources",
            "at least one source of calls is needed, e.g. [sources.customers] with rate = \"8/s\"",
        ));
    }
    each_table(&sources_obj, "source", |o, sname| {
        let arrivals = build_arrivals(o, start)?;
        let behaviour = build_behaviour(o, sname, carrier_names, stage_names)?;
        o.finish(&[])?;
        Ok(SourceConfig {
            name: sname.to_string(),
            arrivals,
            behaviour,
        })
    })
}

/// `[validation] model = "erlang_b"`: the queueing model this file is a validation case of.
fn build_validation(top: &Obj) -> Result<Option<String>> {
    let Some(v) = top.table_opt("validation")? else {
        return Ok(None);
    };
    let m = v.choice_opt("model", &["erlang_b", "erlang_c", "erlang_a", "md1"])?;
    let m = m.ok_or_else(|| v.missing("model", "\"erlang_b\" (or erlang_c, erlang_a, md1)"))?;
    let _ = v.str_opt("description")?;
    v.finish(&[])?;
    Ok(Some(m.to_string()))
}

/// `[windows] peak = ["10:00", "12:00"]`: named clock windows of arrivals, inside the run.
/// `end` is the end of the drain: redials and retries can arrive after the run's `end`, and a
/// window may reach them.
fn build_windows(top: &Obj, start: SimTime, end: SimTime) -> Result<Vec<Window>> {
    let Some(w) = top.table_opt("windows")? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<Window> = Vec::new();
    for (name, v) in w.table {
        let _ = w.get(name);
        let expected = "expected a pair of clock times such as [\"10:00\", \"12:00\"]";
        let pair = match v {
            toml::Value::Array(a) if a.len() == 2 => (a[0].as_str(), a[1].as_str()),
            other => return Err(w.err(name, format!("{expected}, found {}", describe(other)))),
        };
        let (Some(a), Some(b)) = pair else {
            return Err(w.err(name, format!("{expected}, found non-string values")));
        };
        check_window_name(name).map_err(|m| w.err(name, m))?;
        let ws = parse_clock(a).map_err(|m| w.err(name, m))?;
        let we = parse_clock(b).map_err(|m| w.err(name, m))?;
        if we <= ws {
            return Err(w.err(
                name,
                format!("the window must end after it starts: {b} <= {a}"),
            ));
        }
        if ws < start || we > end {
            return Err(w.err(
                name,
                format!(
                    "the window {a}-{b} must lie within the run and its drain ({}-{}): nothing arrives outside it",
                    start.clock_hhmmss(),
                    end.clock_hhmmss()
                ),
            ));
        }
        if out.len() == MAX_WINDOWS {
            return Err(w.err(name, format!("at most {MAX_WINDOWS} windows are allowed")));
        }
        out.push(Window {
            name: name.clone(),
            start: ws,
            end: we,
        });
    }
    Ok(out)
}

/// Window names become metric suffixes (`abandon_ratio@peak`): letters, digits, `_` and `-`.
pub fn check_window_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "window name `{name}` must be letters, digits, `_` or `-` (it becomes a metric suffix such as `abandon_ratio@{name}`)"
        ));
    }
    Ok(())
}

fn dur_key(o: &Obj, key: &str) -> Result<Option<SimDuration>> {
    match o.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => parse_duration(s).map(Some).map_err(|m| o.err(key, m)),
        Some(toml::Value::Integer(0)) => Ok(Some(SimDuration::ZERO)),
        Some(v) => Err(o.err(
            key,
            format!(
                "expected a duration string such as \"30s\" or \"5m\", found {}",
                describe(v)
            ),
        )),
    }
}

fn positive_dur_key(o: &Obj, key: &str) -> Result<Option<SimDuration>> {
    match dur_key(o, key)? {
        Some(SimDuration::ZERO) => Err(o.err(key, "expected a duration > 0")),
        x => Ok(x),
    }
}

const CARRIER_KEYS: &[&str] = &[
    "algorithm",
    "rate",
    "burst",
    "limit",
    "window",
    "channels",
    "count_each_leg",
    "count_backup_legs",
    "over_limit",
    "queue_capacity",
    "max_queue_wait",
    "reject_code",
    "description",
];

fn build_carrier(o: &Obj, name: &str) -> Result<CarrierConfig> {
    let _ = o.str_opt("description")?;
    let limiter = build_limiter(o)?;
    build_carrier_rest(o, name, limiter)
}

/// A rate limiter from `algorithm`, `rate`/`burst` or `limit`/`window` keys of `o` (carriers
/// and gateway tenant limits share it).
fn build_limiter(o: &Obj) -> Result<LimiterSpec> {
    let algorithm = o.choice_opt("algorithm", schema::ALGORITHMS)?;
    let algorithm = algorithm.unwrap_or(if o.has("limit") {
        "rolling_window"
    } else if o.has("rate") {
        "token_bucket"
    } else {
        "none"
    });
    let limiter = match algorithm {
        "token_bucket" | "gcra" => {
            let rate_s = o
                .str_opt("rate")?
                .ok_or_else(|| o.missing("rate", "\"20/s\""))?;
            let rate = parse_rate(rate_s).map_err(|m| o.err("rate", m))?;
            if rate.is_zero() {
                return Err(o.err(
                    "rate",
                    "a dial rate of zero would never dial; expected a rate > 0 such as \"20/s\"",
                ));
            }
            let burst = o.positive_u64_opt("burst")?.unwrap_or(1);
            for k in ["limit", "window"] {
                if o.has(k) {
                    return Err(o.err(
                        k,
                        format!(
                            "`{k}` belongs to window algorithms; `{algorithm}` uses rate and burst"
                        ),
                    ));
                }
            }
            if algorithm == "gcra" {
                LimiterSpec::Gcra { rate, burst }
            } else {
                LimiterSpec::TokenBucket { rate, burst }
            }
        }
        "fixed_window" | "rolling_window" => {
            let limit = o
                .positive_u64_opt("limit")?
                .ok_or_else(|| o.missing("limit", "150"))?;
            let window = positive_dur_key(o, "window")?.unwrap_or(SimDuration::from_secs(1));
            for k in ["rate", "burst"] {
                if o.has(k) {
                    return Err(o.err(k, format!("`{k}` belongs to token_bucket/gcra; `{algorithm}` uses limit and window")));
                }
            }
            if algorithm == "fixed_window" {
                LimiterSpec::FixedWindow { limit, window }
            } else {
                LimiterSpec::RollingWindow { limit, window }
            }
        }
        _ => {
            for k in ["rate", "burst", "limit", "window"] {
                if o.has(k) {
                    return Err(o.err(k, format!("`{k}` needs an algorithm; with algorithm = \"none\" there is no rate limit")));
                }
            }
            LimiterSpec::Unlimited
        }
    };
    Ok(limiter)
}

fn build_carrier_rest(o: &Obj, name: &str, limiter: LimiterSpec) -> Result<CarrierConfig> {
    let channels = o.positive_u64_opt("channels")?;
    let count_each_leg = o.bool_opt("count_each_leg")?.unwrap_or(true);
    let count_backup_legs = o.bool_opt("count_backup_legs")?.unwrap_or(true);
    let over_limit = match o
        .choice_opt("over_limit", &["queue", "reject"])?
        .unwrap_or("queue")
    {
        "queue" => {
            if o.has("reject_code") {
                return Err(o.err(
                    "reject_code",
                    "`reject_code` applies only with over_limit = \"reject\"",
                ));
            }
            OverLimit::Queue {
                capacity: o.u64_opt("queue_capacity")?,
                max_wait: positive_dur_key(o, "max_queue_wait")?,
            }
        }
        _ => {
            for k in ["queue_capacity", "max_queue_wait"] {
                if o.has(k) {
                    return Err(o.err(k, format!("`{k}` applies only with over_limit = \"queue\"")));
                }
            }
            let code = o.u64_opt("reject_code")?.unwrap_or(503);
            if !(100..=699).contains(&code) {
                return Err(o.err(
                    "reject_code",
                    format!("expected a SIP or HTTP status code (100-699), found {code}"),
                ));
            }
            OverLimit::Reject { code: code as u16 }
        }
    };
    o.finish(CARRIER_KEYS)?;
    Ok(CarrierConfig {
        name: name.to_string(),
        limiter,
        channels,
        count_each_leg,
        count_backup_legs,
        over_limit,
    })
}

fn build_arrivals(o: &Obj, start: SimTime) -> Result<ArrivalSpec> {
    match (o.get("rate"), o.table_opt("trace")?) {
        (Some(_), Some(_)) => Err(o.err("trace", "give either `rate` or `trace`, not both")),
        (None, None) => Err(o.missing("rate", "\"8/s\" or [[\"13:00\", \"6/s\"], [\"16:00\", \"9/s\"]] (or a trace = { file = \"...\" })")),
        (Some(v), None) => build_profile(o, v, start).map(ArrivalSpec::Profile),
        (None, Some(t)) => {
            let file = t.str_req("file", "\"traces/calls.csv\"")?;
            let column = t.str_opt("column")?.unwrap_or("time").to_string();
            t.finish(&[])?;
            let path = o.ctx.resolve(file);
            let rows = trace::validate(&path, &column).map_err(|m| t.err("file", m))?;
            Ok(ArrivalSpec::Trace(TraceSpec { path, column, rows }))
        }
    }
}

fn build_profile(o: &Obj, v: &toml::Value, start: SimTime) -> Result<RateProfile> {
    let rate = |s: &toml::Value, path: &str| -> Result<f64> {
        match s {
            toml::Value::String(s) => parse_rate(s)
                .map(|r| r.per_second())
                .map_err(|m| o.ctx.err(path, m)),
            other => Err(o.ctx.err(
                path,
                format!(
                    "expected a rate string such as \"8/s\", found {}",
                    describe(other)
                ),
            )),
        }
    };
    match v {
        toml::Value::String(_) => {
            let r = rate(v, &o.key_path("rate"))?;
            if r == 0.0 {
                return Err(o.err("rate", "a rate of zero would offer no call; expected a rate > 0 such as \"8/s\""));
            }
            Ok(RateProfile { points: vec![(start.as_secs_f64(), r)] })
        }
        toml::Value::Array(points) => {
            if points.is_empty() {
                return Err(o.err("rate", "the rate profile is empty; expected [[\"13:00\", \"6/s\"], ...]"));
            }
            let mut out: Vec<(f64, f64)> = Vec::new();
            for (i, p) in points.iter().enumerate() {
                let path = format!("{}[{i}]", o.key_path("rate"));
                let pair = match p {
                    toml::Value::Array(a) if a.len() == 2 => a,
                    other => {
                        return Err(o.ctx.err(&path, format!("expected a [clock, rate] pair such as [\"13:00\", \"6/s\"], found {}", describe(other))))
                    }
                };
                let t = match &pair[0] {
                    toml::Value::String(s) => parse_clock(s).map_err(|m| o.ctx.err(&path, m))?,
                    other => return Err(o.ctx.err(&path, format!("expected a clock time such as \"13:00\", found {}", describe(other)))),
                };
                let r = rate(&pair[1], &path)?;
                let ts = t.as_ns() as f64 / NS_PER_S as f64;
                if let Some(&(prev, _)) = out.last() {
                    if ts <= prev {
                        return Err(o.ctx.err(&path, format!("profile times must increase: {} comes after {}", t.clock_hhmmss(), SimTime::from_secs_f64(prev).clock_hhmmss())));
                    }
                }
                out.push((ts, r));
            }
            if out.iter().all(|&(_, r)| r == 0.0) {
                return Err(o.err("rate", "every rate in the profile is zero; no call would arrive"));
            }
            Ok(RateProfile { points: out })
        }
        other => Err(o.err("rate", format!("expected a rate such as \"8/s\" or a profile [[\"13:00\", \"6/s\"], ...], found {}", describe(other)))),
    }
}

const SOURCE_KEYS: &[&str] = &["description", "rate", "trace"];

fn build_behaviour(
    o: &Obj,
    name: &str,
    carrier_names: &[String],
    stage_names: &[String],
) -> Result<SourceBehaviour> {
    let _ = o.str_opt("description")?;
    let client = platform::build_client(o, name, stage_names)?;
    let carrier = match o.str_opt("carrier")? {
        _ if client.kind == SourceKind::Request => {
            for k in ["carrier", "flow", "talk_time", "setup_delay", "patience", "redial"] {
                if o.has(k) {
                    return Err(o.err(k, format!("`{k}` applies to call sources; this source has kind = \"request\"")));
                }
            }
            0
        }
        _ if carrier_names.is_empty() => {
            return Err(o.err("", "a call source needs a carrier, and the scenario defines none: add a [carriers.NAME] table (or set kind = \"request\")"))
        }
        Some(c) => carrier_names.iter().position(|n| n == c).ok_or_else(|| {
            o.err(
                "carrier",
                format!(
                    "no carrier named `{c}`; carriers: {}",
                    carrier_names.join(", ")
                ),
            )
        })?,
        None if carrier_names.len() == 1 => 0,
        None => {
            return Err(o.missing(
                "carrier",
                &format!(
                    "\"{}\" (the scenario has several carriers)",
                    carrier_names[0]
                ),
            ))
        }
    };
    let rate_scale = o.f64_opt("rate_scale")?.unwrap_or(1.0);
    if rate_scale < 0.0 {
        return Err(o.err(
            "rate_scale",
            format!("expected a factor >= 0, found {rate_scale}"),
        ));
    }
    let setup_delay = dist_key(o, "setup_delay")?.unwrap_or(DurationDist::Fixed(SimDuration::ZERO));
    let patience = match o.get("patience") {
        Some(toml::Value::String(s)) if s == "never" || s == "inf" => None,
        Some(_) => dist_key(o, "patience")?,
        None => None,
    };
    let talk_time =
        dist_key(o, "talk_time")?.unwrap_or(DurationDist::Exponential { mean_s: 180.0 });
    let flow = match o.table_opt("flow")? {
        Some(f) => build_flow(&f)?,
        None => FlowConfig {
            mode: FlowMode::Simulcall,
            legs: CountDist::Fixed(1),
            destinations: vec![default_destination()],
        },
    };
    let redial = match o.table_opt("redial")? {
        Some(r) => Some(build_redial(&r)?),
        None => None,
    };
    let _ = o.get("rate");
    let _ = o.get("trace");
    o.finish(SOURCE_KEYS)?;
    Ok(SourceBehaviour {
        client,
        carrier,
        rate_scale,
        setup_delay,
        patience,
        flow,
        talk_time,
        redial,
    })
}

fn default_destination() -> Destination {
    Destination {
        answer_probability: 1.0,
        time_to_answer: DurationDist::Fixed(SimDuration::ZERO),
        ring_timeout: SimDuration::from_secs(30),
    }
}

fn build_flow(o: &Obj) -> Result<FlowConfig> {
    let mode = match o
        .choice_opt("mode", &["simulcall", "sequential"])?
        .unwrap_or("simulcall")
    {
        "simulcall" => FlowMode::Simulcall,
        _ => FlowMode::Sequential,
    };
    let legs = match o.get("legs") {
        None => CountDist::Fixed(1),
        Some(toml::Value::Integer(k)) if *k >= 1 && *k <= MAX_LEGS as i64 => CountDist::Fixed(*k as u32),
        Some(toml::Value::Integer(k)) => {
            return Err(o.err("legs", format!("expected between 1 and {MAX_LEGS} legs per call, found {k}")))
        }
        Some(toml::Value::Table(w)) => {
            let mut pairs: Vec<(u32, f64)> = Vec::new();
            for (k, v) in w {
                let path = join(&o.key_path("legs"), k);
                let n: u32 = k.parse().ok().filter(|n| (1..=MAX_LEGS as u32).contains(n)).ok_or_else(|| {
                    o.ctx.err(&path, format!("expected a leg count between 1 and {MAX_LEGS} as the key, found `{k}`"))
                })?;
                let p = match v {
                    toml::Value::Float(f) if *f >= 0.0 => *f,
                    toml::Value::Integer(i) if *i >= 0 => *i as f64,
                    other => return Err(o.ctx.err(&path, format!("expected a probability >= 0, found {}", describe(other)))),
                };
                pairs.push((n, p));
            }
            let total: f64 = pairs.iter().map(|p| p.1).sum();
            if (total - 1.0).abs() > 1e-6 {
                return Err(o.err("legs", format!("the probabilities of the leg counts must sum to 1, they sum to {total}")));
            }
            pairs.sort_by_key(|p| p.0);
            let mut cum = 0.0;
            let cumulative = pairs.iter().map(|&(n, p)| {
                cum += p / total;
                (n, cum)
            });
            CountDist::Weights(cumulative.collect())
        }
        Some(v) => {
            return Err(o.err("legs", format!("expected a number of legs (e.g. 3) or weights (e.g. {{ 1 = 0.5, 3 = 0.5 }}), found {}", describe(v))))
        }
    };
    let destinations = match o.array_opt("destinations")? {
        None => vec![default_destination()],
        Some(a) if a.is_empty() => {
            return Err(o.err("destinations", "expected at least one destination"))
        }
        Some(a) => {
            let mut out = Vec::new();
            for (i, v) in a.iter().enumerate() {
                let path = format!("{}[{i}]", o.key_path("destinations"));
                let toml::Value::Table(t) = v else {
                    return Err(o.ctx.err(&path, format!("expected a table {{ answer_probability, time_to_answer, ring_timeout }}, found {}", describe(v))));
                };
                let d = Obj::new(o.ctx, path, t);
                let dd = default_destination();
                let dest = Destination {
                    answer_probability: d
                        .prob_opt("answer_probability")?
                        .unwrap_or(dd.answer_probability),
                    time_to_answer: dist_key(&d, "time_to_answer")?.unwrap_or(dd.time_to_answer),
                    ring_timeout: positive_dur_key(&d, "ring_timeout")?.unwrap_or(dd.ring_timeout),
                };
                d.finish(&["description"])?;
                out.push(dest);
            }
            out
        }
    };
    o.finish(&[])?;
    Ok(FlowConfig {
        mode,
        legs,
        destinations,
    })
}

fn build_redial(o: &Obj) -> Result<RedialConfig> {
    let probability = o
        .prob_opt("probability")?
        .ok_or_else(|| o.missing("probability", "0.5"))?;
    let delay = dist_key(o, "delay")?.unwrap_or(DurationDist::Exponential { mean_s: 30.0 });
    let max_attempts = o.positive_u64_opt("max_attempts")?.unwrap_or(3);
    if max_attempts > 100 {
        return Err(o.err(
            "max_attempts",
            format!("{max_attempts} attempts is more than the 100 allowed"),
        ));
    }
    let after = match o.array_opt("after")? {
        None => vec!["abandoned".to_string(), "failed".to_string()],
        Some(a) => {
            let mut v = Vec::new();
            for (i, x) in a.iter().enumerate() {
                match x {
                    toml::Value::String(s)
                        if ["abandoned", "failed", "no_answer"].contains(&s.as_str()) =>
                    {
                        v.push(s.clone())
                    }
                    other => {
                        return Err(o.ctx.err(
                            &format!("{}[{i}]", o.key_path("after")),
                            format!(
                            "expected one of \"abandoned\", \"failed\", \"no_answer\", found {}",
                            describe(other)
                        ),
                        ))
                    }
                }
            }
            v
        }
    };
    o.finish(&[])?;
    Ok(RedialConfig {
        probability,
        delay,
        max_attempts: max_attempts as u32,
        after_abandon: after.iter().any(|s| s == "abandoned"),
        after_failure: after.iter().any(|s| s == "failed"),
        after_no_answer: after.iter().any(|s| s == "no_answer"),
    })
}

use schema::DIST_KINDS;

/// A duration distribution: a duration string ("30s" = fixed) or a table with `dist`.
pub fn dist_key(o: &Obj, key: &str) -> Result<Option<DurationDist>> {
    match o.get(key) {
        None => Ok(None),
        Some(v) => dist_value(o.ctx, &o.key_path(key), v).map(Some),
    }
}

fn dist_value(ctx: &Ctx, path: &str, v: &toml::Value) -> Result<DurationDist> {
    match v {
        toml::Value::String(s) => parse_duration(s).map(DurationDist::Fixed).map_err(|m| ctx.err(path, m)),
        toml::Value::Integer(0) => Ok(DurationDist::Fixed(SimDuration::ZERO)),
        toml::Value::Table(t) => dist_table(&Obj::new(ctx, path, t), false),
        other => Err(ctx.err(
            path,
            format!("expected a duration (\"30s\") or a distribution table such as {{ dist = \"exponential\", mean = \"90s\" }}, found {}", describe(other)),
        )),
    }
}

fn secs(o: &Obj, key: &str) -> Result<Option<f64>> {
    Ok(dur_key(o, key)?.map(|d| d.as_secs_f64()))
}

fn req_positive_secs(o: &Obj, key: &str, example: &str) -> Result<f64> {
    match secs(o, key)? {
        None => Err(o.missing(key, example)),
        Some(s) if s <= 0.0 => Err(o.err(key, "expected a duration > 0")),
        Some(s) => Ok(s),
    }
}

/// A distribution table; `in_mixture` allows the component's `weight` key.
fn dist_table(o: &Obj, in_mixture: bool) -> Result<DurationDist> {
    let kind = o.choice_opt("dist", DIST_KINDS)?.ok_or_else(|| o.missing("dist", "\"exponential\" (one of fixed, exponential, lognormal, weibull, uniform, empirical, mixture)"))?;
    let d = match kind {
        "fixed" => {
            DurationDist::Fixed(dur_key(o, "value")?.ok_or_else(|| o.missing("value", "\"30s\""))?)
        }
        "exponential" => DurationDist::Exponential {
            mean_s: req_positive_secs(o, "mean", "\"90s\"")?,
        },
        "lognormal" => {
            if o.has("median") || o.has("sigma") {
                let median = req_positive_secs(o, "median", "\"20s\"")?;
                let sigma = o
                    .positive_f64_opt("sigma")?
                    .ok_or_else(|| o.missing("sigma", "0.8"))?;
                DurationDist::LogNormal {
                    mu: median.ln(),
                    sigma,
                }
            } else {
                let mean = req_positive_secs(o, "mean", "\"30s\"")?;
                let sd = req_positive_secs(o, "sd", "\"20s\"")?;
                let s2 = (1.0 + (sd / mean).powi(2)).ln();
                DurationDist::LogNormal {
                    mu: mean.ln() - s2 / 2.0,
                    sigma: s2.sqrt(),
                }
            }
        }
        "weibull" => DurationDist::Weibull {
            shape: o
                .positive_f64_opt("shape")?
                .ok_or_else(|| o.missing("shape", "1.5"))?,
            scale_s: req_positive_secs(o, "scale", "\"60s\"")?,
        },
        "uniform" => {
            let min = secs(o, "min")?.ok_or_else(|| o.missing("min", "\"1s\""))?;
            let max = secs(o, "max")?.ok_or_else(|| o.missing("max", "\"5s\""))?;
            if max < min {
                return Err(o.err("max", "expected max >= min"));
            }
            DurationDist::Uniform {
                min_s: min,
                max_s: max,
            }
        }
        "empirical" => {
            let file = o.str_req("file", "\"data/patience.csv\"")?;
            let column = o.str_opt("column")?;
            let path = o.ctx.resolve(file);
            let values = trace::read_values(&path, column).map_err(|m| o.err("file", m))?;
            DurationDist::Empirical {
                sorted_s: Arc::new(values),
            }
        }
        _ => {
            let comps = o.array_opt("components")?.ok_or_else(|| o.missing("components", "[{ weight = 0.997, dist = \"fixed\", value = \"20ms\" }, { weight = 0.003, dist = \"exponential\", mean = \"2s\" }]"))?;
            if comps.is_empty() {
                return Err(o.err("components", "expected at least one component"));
            }
            let mut parts = Vec::new();
            for (i, c) in comps.iter().enumerate() {
                let path = format!("{}[{i}]", o.key_path("components"));
                let toml::Value::Table(t) = c else {
                    return Err(o.ctx.err(
                        &path,
                        format!(
                            "expected a table with `weight` and a distribution, found {}",
                            describe(c)
                        ),
                    ));
                };
                let co = Obj::new(o.ctx, path, t);
                let w = co
                    .f64_opt("weight")?
                    .ok_or_else(|| co.missing("weight", "0.5"))?;
                if w < 0.0 {
                    return Err(co.err("weight", "expected a weight >= 0"));
                }
                let d = dist_table(&co, true)?;
                parts.push((w, d));
            }
            let total: f64 = parts.iter().map(|p| p.0).sum();
            if (total - 1.0).abs() > 1e-6 {
                return Err(o.err(
                    "components",
                    format!("the component weights must sum to 1, they sum to {total}"),
                ));
            }
            DurationDist::Mixture(parts)
        }
    };
    if in_mixture {
        let _ = o.get("weight");
    }
    o.finish(&[])?;
    Ok(d)
}

fn build_backup(o: &Obj) -> Result<BackupConfig> {
    let policy = o
        .choice_opt("policy", &["off", "manual", "auto"])?
        .unwrap_or(if o.has("auto") {
            "auto"
        } else if o.has("windows") {
            "manual"
        } else {
            "off"
        });
    let windows = match o.array_opt("windows")? {
        None => Vec::new(),
        Some(a) => {
            let mut out: Vec<(SimTime, SimTime)> = Vec::new();
            for (i, w) in a.iter().enumerate() {
                let path = format!("{}[{i}]", o.key_path("windows"));
                let (f, t) = match w {
                    toml::Value::Array(p) if p.len() == 2 => match (&p[0], &p[1]) {
                        (toml::Value::String(f), toml::Value::String(t)) => (
                            parse_clock(f).map_err(|m| o.ctx.err(&path, m))?,
                            parse_clock(t).map_err(|m| o.ctx.err(&path, m))?,
                        ),
                        _ => return Err(o.ctx.err(&path, "expected a pair of clock times such as [\"14:39\", \"15:22\"]")),
                    },
                    other => return Err(o.ctx.err(&path, format!("expected a pair of clock times such as [\"14:39\", \"15:22\"], found {}", describe(other)))),
                };
                if t <= f {
                    return Err(o.ctx.err(
                        &path,
                        format!(
                            "a window must end after it starts ({} .. {})",
                            f.clock_hhmmss(),
                            t.clock_hhmmss()
                        ),
                    ));
                }
                if let Some(&(_, prev_to)) = out.last() {
                    if f < prev_to {
                        return Err(o
                            .ctx
                            .err(&path, "windows must be in order and must not overlap"));
                    }
                }
                out.push((f, t));
            }
            out
        }
    };
    let auto = match o.table_opt("auto")? {
        None => None,
        Some(a) => {
            let metric = match a
                .choice_opt("metric", &["dial_delay_p95", "oldest_wait"])?
                .unwrap_or("dial_delay_p95")
            {
                "dial_delay_p95" => AutoMetric::DialDelayP95,
                _ => AutoMetric::OldestWait,
            };
            let on_above = positive_dur_key(&a, "on_above")?.unwrap_or(SimDuration::from_secs(5));
            let off_below = dur_key(&a, "off_below")?.unwrap_or(SimDuration::from_secs(1));
            if off_below > on_above {
                return Err(a.err("off_below", "expected off_below <= on_above (hysteresis)"));
            }
            let cfg = AutoBackup {
                metric,
                window: positive_dur_key(&a, "window")?.unwrap_or(SimDuration::from_secs(60)),
                on_above,
                off_below,
                evaluate_every: positive_dur_key(&a, "evaluate_every")?
                    .unwrap_or(SimDuration::from_secs(10)),
                min_on: dur_key(&a, "min_on")?.unwrap_or(SimDuration::from_secs(300)),
            };
            a.finish(&[])?;
            Some(cfg)
        }
    };
    o.finish(&[])?;
    let policy = match policy {
        "off" => BackupPolicy::Off,
        "manual" => {
            if windows.is_empty() {
                return Err(o.missing(
                    "windows",
                    "[[\"14:39\", \"15:22\"]] (policy = \"manual\" needs windows)",
                ));
            }
            BackupPolicy::Manual(windows)
        }
        _ => BackupPolicy::Auto(
            auto.ok_or_else(|| o.missing("auto", "{ on_above = \"5s\", off_below = \"1s\" }"))?,
        ),
    };
    Ok(BackupConfig { policy })
}

/// Scheduled changes: each `set` is merged into the scenario as it stands at that time (base,
/// then earlier changes), and the affected carrier, source or backup settings are re-validated
/// as a whole, so any key of those tables can change mid-run.
/// What a change may refer to.
struct Names<'a> {
    carriers: &'a [String],
    sources: &'a [SourceConfig],
    stages: &'a [String],
    dependencies: &'a [DependencyConfig],
}

fn build_changes(
    ctx: &Ctx,
    top: &Obj,
    doc: &toml::Table,
    names: &Names,
    start: SimTime,
) -> Result<Vec<Change>> {
    let Some(arr) = top.array_opt("changes")? else {
        return Ok(Vec::new());
    };
    let (mut items, resets) = parse_change_items(ctx, arr)?;
    items.sort_by_key(|(at, i, _)| (*at, *i));
    let mut effective = doc.clone();
    let mut out = Vec::new();
    for (at, i, set) in items {
        let leaves = leaf_paths(&set, "");
        let mut touched = Touched::default();
        let n_overrides = ctx.overrides.borrow().len();
        for leaf in &leaves {
            let set_path = format!("changes[{i}].set.{leaf}");
            let line = ctx.map.line_of(&set_path);
            touched.add(leaf, names, |msg| ctx.err(&set_path, msg))?;
            ctx.overrides.borrow_mut().push((
                leaf.clone(),
                Origin {
                    label: format!("changes[{i}] at {}", at.clock_hhmm()),
                    line,
                },
            ));
        }
        merge(&mut effective, &set);
        let label = format!("{} {}", at.clock_hhmm(), leaves.join(", "));
        let eff = Obj::new(ctx, "", &effective);
        for kind in touched.rebuild(&eff, names)? {
            out.push(Change {
                at: at.max(start),
                label: label.clone(),
                kind,
            });
        }
        ctx.overrides.borrow_mut().truncate(n_overrides);
    }
    for (at, i) in resets {
        out.push(Change {
            at: at.max(start),
            label: format!("{} reset blocked accounts (changes[{i}])", at.clock_hhmm()),
            kind: ChangeKind::ResetAccounts,
        });
    }
    // Same-time changes apply in file order of their kind (stable sort on the time).
    out.sort_by_key(|c| c.at);
    Ok(out)
}

/// A change's `set` tables: (at, index in the file, the dotted keys expanded).
type ChangeItems = Vec<(SimTime, usize, toml::Table)>;

/// Reads each `[[changes]]` entry: its `set` table as (at, index, table), and its
/// `action = "reset_accounts"` as (at, index).
fn parse_change_items(
    ctx: &Ctx,
    arr: &[toml::Value],
) -> Result<(ChangeItems, Vec<(SimTime, usize)>)> {
    let mut items = Vec::new();
    let mut resets = Vec::new();
    for (i, v) in arr.iter().enumerate() {
        let path = format!("changes[{i}]");
        let toml::Value::Table(t) = v else {
            return Err(ctx.err(
                &path,
                format!(
                    "expected a table {{ at = \"17:30\", set = {{ ... }} }}, found {}",
                    describe(v)
                ),
            ));
        };
        let o = Obj::new(ctx, path.clone(), t);
        // Unknown keys first: `att = "17:30"` is a misspelt `at`, not a missing one.
        o.finish(&["at", "action", "description", "set"])?;
        let at = parse_clock(o.str_req("at", "\"17:30\"")?).map_err(|m| o.err("at", m))?;
        let action = o.choice_opt("action", &["reset_accounts"])?;
        let _ = o.str_opt("description")?;
        if action.is_some() {
            resets.push((at, i));
        }
        match o.table_opt("set")? {
            Some(set) if set.table.is_empty() => {
                return Err(o.err("set", "nothing to change: `set` is empty"))
            }
            Some(set) => items.push((at, i, expand_dotted(set.table))),
            None if action.is_none() => {
                return Err(o.missing(
                    "set",
                    "{ carriers.primary.rate = \"30/s\" }  (or action = \"reset_accounts\")",
                ))
            }
            None => {}
        }
        o.finish(&[])?;
    }
    Ok((items, resets))
}

/// The tables one change touches (indices in first-touched order), to be rebuilt whole from the
/// effective document after the change is merged in.
#[derive(Default)]
struct Touched {
    carriers: Vec<usize>,
    sources: Vec<usize>,
    backup: bool,
    stages: Vec<usize>,
    deps: Vec<usize>,
    /// Dependencies whose `primary` the change sets explicitly.
    primary_set: Vec<usize>,
}

fn push_once(v: &mut Vec<usize>, idx: usize) {
    if !v.contains(&idx) {
        v.push(idx);
    }
}

impl Touched {
    /// Records the table that key path `leaf` (inside a change's `set`) belongs to, or says why
    /// it cannot change mid-run.
    fn add(
        &mut self,
        leaf: &str,
        names: &Names,
        bad: impl Fn(String) -> ScenarioError,
    ) -> Result<()> {
        let (carrier_names, sources) = (names.carriers, names.sources);
        let parts: Vec<&str> = leaf.split('.').collect();
        match parts.as_slice() {
            ["carriers", name, _, ..] => {
                let idx = carrier_names.iter().position(|n| n == name).ok_or_else(|| bad(format!("no carrier named `{name}`; carriers: {}", carrier_names.join(", "))))?;
                push_once(&mut self.carriers, idx);
            }
            ["sources", name, key, ..] => {
                let idx = sources.iter().position(|s| s.name == *name).ok_or_else(|| {
                    bad(format!("no source named `{name}`; sources: {}", sources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")))
                })?;
                if *key == "rate" || *key == "trace" {
                    return Err(bad(format!("`{key}` cannot change mid-run: give the source a rate profile over clock time instead (rate_scale can change)")));
                }
                if ["kind", "tenant", "method", "accounts", "stages"].contains(key) {
                    return Err(bad(format!(
                        "`{key}` cannot change mid-run: it fixes who the traffic is and which path it takes (use a second source active at other times instead)"
                    )));
                }
                push_once(&mut self.sources, idx);
            }
            ["backup", ..] => self.backup = true,
            ["stages", name, _, ..] => {
                let idx = names.stages.iter().position(|n| n == name).ok_or_else(|| bad(format!("no stage named `{name}`; stages: {}", names.stages.join(", "))))?;
                push_once(&mut self.stages, idx);
            }
            ["dependencies", name, _, ..] => {
                let idx = names.dependencies.iter().position(|d| d.name == *name).ok_or_else(|| {
                    bad(format!(
                        "no dependency named `{name}`; dependencies: {}",
                        names.dependencies.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                push_once(&mut self.deps, idx);
                if parts.get(2) == Some(&"primary") {
                    self.primary_set.push(idx);
                }
            }
            _ => {
                return Err(bad(format!(
                    "`{leaf}` cannot change mid-run; a change may set carriers.NAME.*, sources.NAME.* (not rate or trace), stages.NAME.*, dependencies.NAME.* and backup.*"
                )))
            }
        }
        Ok(())
    }

    /// Rebuilds and validates each touched table from the effective document `eff`, in the
    /// order carriers, sources, stages, dependencies, backup.
    fn rebuild(self, eff: &Obj, names: &Names) -> Result<Vec<ChangeKind>> {
        let ctx = eff.ctx;
        let entry = |section: &str, name: &str| {
            Ok::<_, ScenarioError>(
                eff.table_opt(section)?
                    .and_then(|c| c.table.get(name).and_then(|v| v.as_table()))
                    .map(|t| Obj::new(ctx, join(section, name), t)),
            )
        };
        let mut kinds = Vec::new();
        for idx in self.carriers {
            let cname = &names.carriers[idx];
            let o = entry("carriers", cname)?.expect("carrier exists");
            kinds.push(ChangeKind::Carrier(idx, build_carrier(&o, cname)?));
        }
        for idx in self.sources {
            let sname = &names.sources[idx].name;
            let so = entry("sources", sname)?.expect("source exists");
            let b = build_behaviour(&so, sname, names.carriers, names.stages)?;
            kinds.push(ChangeKind::Source(idx, b));
        }
        for idx in self.stages {
            let sname = &names.stages[idx];
            let o = entry("stages", sname)?.expect("stage exists");
            let cfg = platform::build_stage(&o, sname, names.dependencies)?;
            kinds.push(ChangeKind::Stage(idx, cfg));
        }
        for idx in self.deps {
            let dname = &names.dependencies[idx].name;
            let o = entry("dependencies", dname)?.expect("dependency exists");
            let cfg = platform::build_dependency(&o, dname)?;
            let explicit = self.primary_set.contains(&idx);
            kinds.push(ChangeKind::Dependency(idx, cfg, explicit));
        }
        if self.backup {
            let b = eff.table_opt("backup")?.expect("backup was set");
            kinds.push(ChangeKind::Backup(build_backup(&b)?));
        }
        Ok(kinds)
    }
}

#[cfg(test)]
mod tests;
