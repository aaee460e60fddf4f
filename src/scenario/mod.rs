//! Scenario files: TOML text -> (variant and `--set` overrides merged) -> validated
//! `ModelConfig`. Every error names the file, line, key path and what was expected.
//!
//! The only module besides `cli`/`export` that touches files (the scenario, traces, empirical
//! distributions). Depends on model config types, dist, limiter specs and time parsing.

pub mod alerts;
mod changes;
pub mod levers;
mod overrides;
pub mod platform;
pub mod reader;
pub mod schema;
pub mod spans;
pub mod trace;
mod values;

use crate::dist::{CountDist, DurationDist, RateProfile};
use crate::limiter::LimiterSpec;
use crate::model::config::*;
use crate::time::{parse_clock, parse_duration, parse_rate, SimDuration, SimTime, NS_PER_S};
pub use reader::ScenarioError;
use reader::{describe, join, Ctx, Obj, Origin, Result};
use spans::{line_of_offset, line_starts};
use std::path::Path;
use std::sync::Arc;

use changes::*;
use overrides::*;
pub use overrides::{expand_dotted, merge, parse_set};
pub use values::dist_key;

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
    apply_sets(&ctx, path, &mut doc, sets, variant)?;
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

    let sources = build_sources(&top, h.start, h.end, &carrier_names, &stage_names)?;
    let backup = match top.table_opt("backup")? {
        Some(b) => build_backup(&b, &sources)?,
        None => BackupConfig {
            policy: BackupPolicy::Off,
            sources: Vec::new(),
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
    end: SimTime,
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
        let arrivals = build_arrivals(o, start, end)?;
        let behaviour = build_behaviour(o, sname, carrier_names, stage_names)?;
        o.finish(&[])?;
        Ok(SourceConfig {
            name: sname.to_string(),
            arrivals,
            behaviour,
        })
    })
}

/// The queueing systems `[validation] model` may name (see validate.rs).
pub const VALIDATION_MODELS: &[&str] = &[
    "erlang_b",
    "erlang_c",
    "erlang_a",
    "erlang_a_fixed",
    "mmck",
    "md1",
    "mg1",
];

/// `[validation] model = "erlang_b"`: the queueing model this file is a validation case of.
fn build_validation(top: &Obj) -> Result<Option<String>> {
    let Some(v) = top.table_opt("validation")? else {
        return Ok(None);
    };
    let m = v.choice_opt("model", VALIDATION_MODELS)?;
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
    "cancel_queued",
    "retries",
    "backoff",
    "backoff_multiplier",
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
            for k in ["reject_code", "retries", "backoff", "backoff_multiplier"] {
                if o.has(k) {
                    return Err(o.err(k, format!("`{k}` applies only with over_limit = \"reject\" (a queued leg is never rejected, so never retried)")));
                }
            }
            let cancel = match o
                .choice_opt("cancel_queued", schema::CANCEL_QUEUED)?
                .unwrap_or("withdraw")
            {
                "withdraw" => CancelQueued::Withdraw,
                _ => CancelQueued::DialAndHangUp,
            };
            OverLimit::Queue {
                capacity: o.u64_opt("queue_capacity")?,
                max_wait: positive_dur_key(o, "max_queue_wait")?,
                cancel,
            }
        }
        _ => {
            for k in ["queue_capacity", "max_queue_wait", "cancel_queued"] {
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
    let leg_retry = match over_limit {
        // Kept with `retries = 0` too when the key is written: the scenario then reports the
        // retry counters (a variant without retries compares with one that has them).
        OverLimit::Reject { .. } => Some(platform::build_retry(o)?).filter(|_| o.has("retries")),
        OverLimit::Queue { .. } => None,
    };
    o.finish(CARRIER_KEYS)?;
    Ok(CarrierConfig {
        name: name.to_string(),
        limiter,
        channels,
        count_each_leg,
        count_backup_legs,
        over_limit,
        leg_retry,
    })
}

fn build_arrivals(o: &Obj, start: SimTime, end: SimTime) -> Result<ArrivalSpec> {
    match (o.get("rate"), o.table_opt("trace")?) {
        (Some(_), Some(_)) => Err(o.err("trace", "give either `rate` or `trace`, not both")),
        (None, None) => Err(o.missing("rate", "\"8/s\" or [[\"13:00\", \"6/s\"], [\"16:00\", \"9/s\"]] (or a trace = { file = \"...\" })")),
        (Some(v), None) => build_profile(o, v, start).map(ArrivalSpec::Profile),
        (None, Some(t)) => {
            let file = t.str_req("file", "\"traces/calls.csv\"")?;
            let column = t.str_opt("column")?.unwrap_or("time").to_string();
            t.finish(&[])?;
            let path = o.ctx.resolve(file);
            let (rows, first, last) =
                trace::validate(&path, &column).map_err(|m| t.err("file", m))?;
            // Rows outside [start, end) are skipped by the run; none inside is a mistake (a
            // trace of another day, or times in another unit), not an empty afternoon.
            if last < start || first >= end {
                return Err(t.err(
                    "file",
                    format!(
                        "no arrival of `{}` falls in the run ({} to {}): its rows run from {} to {}",
                        path.display(),
                        start.clock_hhmmss(),
                        end.clock_hhmmss(),
                        first.clock_hhmmss(),
                        last.clock_hhmmss()
                    ),
                ));
            }
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

/// `[backup]`: the platform-wide policy, and `[backup.sources.NAME]` policies for single call
/// sources (by source index, in source order).
fn build_backup(o: &Obj, sources: &[SourceConfig]) -> Result<BackupConfig> {
    let policy = build_backup_policy(o)?;
    let mut per_source = Vec::new();
    if let Some(so) = o.table_opt("sources")? {
        let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        let built = each_table(&so, "a source's backup policy", |po, name| {
            let Some(idx) = names.iter().position(|n| *n == name) else {
                return Err(po.ctx.err(
                    &po.path,
                    format!("no source named `{name}`; sources: {}", names.join(", ")),
                ));
            };
            if sources[idx].behaviour.client.kind != SourceKind::Call {
                return Err(po.ctx.err(
                    &po.path,
                    format!("source `{name}` sends API requests, which backup routing does not route; a per-source policy needs a call source"),
                ));
            }
            let p = build_backup_policy(po)?;
            po.finish(&[])?;
            Ok((idx, p))
        })?;
        per_source = built;
        per_source.sort_by_key(|&(i, _)| i);
    }
    o.finish(&[])?;
    Ok(BackupConfig {
        policy,
        sources: per_source,
    })
}

/// The policy keys of `[backup]` or `[backup.sources.NAME]`: `policy`, `windows`, `auto`.
fn build_backup_policy(o: &Obj) -> Result<BackupPolicy> {
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
    Ok(match policy {
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
    })
}

#[cfg(test)]
mod tests;
