//! The work a scenario asks for, estimated before anything runs, and the budget it must fit:
//! expected calls, legs and events per replication (arrivals from the rate profiles, periodic
//! timers from their intervals), timeline rows, output size and run time at the engine's
//! measured speed. `check` prints it; every command refuses a scenario whose estimate exceeds
//! the budget (a 6-line file with `rate = "1000000000000/s"` must not take the machine down).
//! Pure; no I/O.

use crate::error::Error;
use crate::model::config::{ArrivalSpec, BackupPolicy, ModelConfig, SourceKind};

/// Events per second one replication runs at on the reference machine (results/BENCHMARKS.md:
/// Erlang-A c=100 at about 5 M calls/s and 2.2 events per call; platform scenarios are slower).
pub const EVENTS_PER_S: f64 = 5.0e6;

/// Default most events one replication may take (about 20 minutes at `EVENTS_PER_S`).
pub const DEFAULT_MAX_EVENTS: f64 = 6.0e9;

/// Bytes a timeline row takes in timeline.csv (about; per source and stage rows add more).
const TIMELINE_ROW_BYTES: f64 = 260.0;
/// Bytes a calls.csv row takes (about).
const CALLS_ROW_BYTES: f64 = 110.0;

/// The estimate for one replication.
#[derive(Clone, Debug, Default)]
pub struct Work {
    /// Expected first attempts (None: a trace, counted only when read).
    pub calls: Option<f64>,
    pub legs: f64,
    /// Events of periodic timers: (what, count).
    pub timers: Vec<(String, f64)>,
    pub events: f64,
    /// Events if every request attempt failed and was retried as often as its client allows
    /// (the estimate assumes no failures; the runtime budget stops a run that gets there).
    pub events_all_retried: f64,
    pub timeline_rows: f64,
    /// Bytes of timeline.csv (and tenants/stages timelines) per replication with --out.
    pub timeline_bytes: f64,
    /// Bytes of calls.csv per replication with --calls-csv.
    pub calls_bytes: f64,
}

impl Work {
    pub fn seconds(&self) -> f64 {
        self.events / EVENTS_PER_S
    }
}

/// Estimates the work of one replication of `cfg`.
pub fn estimate(cfg: &ModelConfig) -> Work {
    let (a, b) = (cfg.start.as_secs_f64(), cfg.end.as_secs_f64());
    let span = (cfg.end.as_ns() - cfg.start.as_ns() + cfg.drain.as_ns()) as f64 / 1e9;
    let mut w = Work::default();
    let mut calls = Some(0.0);
    let mut events = 0.0;
    let mut retry_events = 0.0;
    for s in &cfg.sources {
        let n = match &s.arrivals {
            ArrivalSpec::Profile(p) => p.integral(a, b) * s.behaviour.rate_scale,
            ArrivalSpec::Trace(_) => {
                calls = None;
                continue;
            }
        };
        let legs = if s.behaviour.client.kind == SourceKind::Request {
            0.0
        } else {
            s.behaviour.flow.legs.mean()
        };
        let stages = s.behaviour.client.stages.len() as f64;
        calls = calls.map(|c| c + n);
        w.legs += n * legs;
        // An arrival, a patience check, an answer or timeout per leg, a talk end; a job end
        // and a client timeout per stage (an upper bound: a timeout the attempt beats is
        // never scheduled).
        events += n * (2.0 + 2.0 * legs + 2.0 * stages);
        // Each retry: a backoff timer, then a job end and a client timeout per stage.
        retry_events += n * f64::from(s.behaviour.client.retry.retries) * (1.0 + 2.0 * stages);
        // Each retry of a leg its carrier rejected: a backoff timer.
        if let Some(r) = cfg
            .carriers
            .get(s.behaviour.carrier)
            .and_then(|c| c.leg_retry.as_ref())
        {
            retry_events += n * legs * f64::from(r.retries);
        }
    }
    if let (Some(c), Some(max)) = (calls, cfg.max_calls) {
        let cut = (max as f64 / c.max(1.0)).min(1.0);
        calls = Some(c * cut);
        w.legs *= cut;
        events *= cut;
        retry_events *= cut;
    }
    let mut timer = |what: String, every_ns: u64| {
        let n = span * 1e9 / every_ns.max(1) as f64;
        w.timers.push((what, n));
        n
    };
    if let BackupPolicy::Auto(x) = &cfg.backup.policy {
        events += timer(
            "backup.auto.evaluate_every".into(),
            x.evaluate_every.as_ns(),
        );
    }
    for (s, p) in &cfg.backup.sources {
        if let BackupPolicy::Auto(x) = p {
            let name = &cfg.sources[*s].name;
            events += timer(
                format!("backup.sources.{name}.auto.evaluate_every"),
                x.evaluate_every.as_ns(),
            );
        }
    }
    for d in &cfg.dependencies {
        if let Some(h) = &d.health_check {
            events += timer(
                format!("dependencies.{}.health_check.every", d.name),
                h.every.as_ns(),
            );
        }
    }
    for s in &cfg.stages {
        if let Some(x) = &s.autoscaler {
            events += timer(
                format!("stages.{}.autoscaler.evaluate_every", s.name),
                x.evaluate_every.as_ns(),
            );
        }
    }
    w.calls = calls;
    w.events = events;
    w.events_all_retried = events + retry_events;
    w.timeline_rows = (span * 1e9 / cfg.interval.as_ns() as f64).ceil() + 1.0;
    let per_row = 1.0
        + cfg.sources.len() as f64 * f64::from(u8::from(cfg.sources.len() > 1))
        + cfg.stages.len() as f64;
    w.timeline_bytes = w.timeline_rows * TIMELINE_ROW_BYTES * per_row;
    w.calls_bytes = calls.unwrap_or(0.0) * CALLS_ROW_BYTES;
    w
}

/// Bytes a timeline row of one replication holds in memory while it runs (its counters and
/// percentiles; per-source and per-stage rows add theirs).
const TIMELINE_ROW_MEM: f64 = 340.0;

/// Memory the timeline rows of one running replication take.
pub fn timeline_memory(cfg: &ModelConfig, w: &Work) -> f64 {
    let sources = if cfg.sources.len() > 1 || !cfg.stages.is_empty() {
        cfg.sources.len() as f64 * 200.0
    } else {
        0.0
    };
    w.timeline_rows * (TIMELINE_ROW_MEM + sources + cfg.stages.len() as f64 * 120.0)
}

/// The default memory budget: half the machine's memory (4 GiB where it cannot be read).
pub fn default_max_memory() -> f64 {
    let total_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
    });
    total_kb.map_or(4.0 * 1024.0 * 1024.0 * 1024.0, |kb| kb * 1024.0 / 2.0)
}

/// A size in the units `--max-memory` and `--max-output` take (K, M, G, T: powers of 1024), so
/// that the default `10G` prints as 10G: `0.5K` would be 512 bytes.
pub fn bytes_text(b: f64) -> String {
    let units = [
        ("T", 1024f64.powi(4)),
        ("G", 1024f64.powi(3)),
        ("M", 1024f64.powi(2)),
        ("K", 1024.0),
    ];
    match units.iter().find(|(_, m)| b >= *m) {
        Some((u, m)) => {
            let v = format!("{:.1}", b / m);
            format!("{}{u}", v.strip_suffix(".0").unwrap_or(&v))
        }
        None => format!("{b:.0} bytes"),
    }
}

/// `8G`, `512M`, `100000K` or bytes.
pub fn parse_bytes(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1024.0,
                'M' => 1024.0 * 1024.0,
                'G' => 1024.0 * 1024.0 * 1024.0,
                'T' => 1024.0f64.powi(4),
                _ => {
                    return Err(format!(
                        "`{s}`: expected a size such as 8G, 512M or 100000K"
                    ))
                }
            };
            (&t[..i], m)
        }
        _ => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: expected a size such as 8G, 512M or 100000K"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("`{s}`: the size must be greater than 0"));
    }
    Ok(v * mult)
}

/// The budget of a run.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Most events per replication.
    pub max_events: f64,
    /// Most bytes the run may hold (all replications running at once).
    pub max_memory: f64,
    /// Replications holding a timeline in memory at once (0 without a timeline).
    pub parallel: f64,
    /// Replications running at once.
    pub threads: f64,
}

impl Budget {
    /// The limits each replication runs within: the events, and the in-flight entries its
    /// share of the memory holds.
    pub fn limits(&self) -> crate::model::Limits {
        let share = self.max_memory / self.threads.max(1.0);
        crate::model::Limits {
            max_events: self.max_events as u64,
            max_in_flight: (share / crate::model::limits::BYTES_PER_IN_FLIGHT as f64) as u64,
        }
    }
}

/// Refuses work over the budget, saying what grew and what to change.
pub fn check_budget(cfg: &ModelConfig, b: &Budget) -> Result<Work, Error> {
    let w = check(cfg, b.max_events)?;
    let mem = timeline_memory(cfg, &w) * b.parallel;
    if mem > b.max_memory {
        return Err(Error::OverBudget(format!(
            "the timeline would hold {} rows per replication (timeline_interval {} over {} of run and drain), about {} in memory for {} replications at once, over the memory budget of {} (--max-memory): use a longer timeline_interval",
            sci(w.timeline_rows),
            cfg.interval,
            duration_words((cfg.end.as_ns() - cfg.start.as_ns() + cfg.drain.as_ns()) as f64 / 1e9),
            bytes_text(mem),
            b.parallel,
            bytes_text(b.max_memory)
        )));
    }
    Ok(w)
}

/// Refuses work over `max_events` per replication, saying what grew and what to change.
pub fn check(cfg: &ModelConfig, max_events: f64) -> Result<Work, Error> {
    let w = estimate(cfg);
    if w.events <= max_events {
        return Ok(w);
    }
    let biggest_timer = w.timers.iter().max_by(|x, y| x.1.total_cmp(&y.1));
    let cause = match (biggest_timer, w.calls) {
        (Some((what, n)), _) if *n > w.events / 2.0 => format!(
            "`{what}` fires about {} times over the run; use a longer interval",
            sci(*n)
        ),
        (_, Some(c)) => format!(
            "about {} calls arrive per replication ({} legs); lower the rate (or rate_scale) or shorten the run",
            sci(c),
            sci(w.legs)
        ),
        _ => "the timers fire too often".to_string(),
    };
    Err(Error::OverBudget(format!(
        "the scenario would take about {} events per replication, about {} at {} events/s, over the budget of {} events (--max-events): {cause}",
        sci(w.events),
        duration_words(w.seconds()),
        sci(EVENTS_PER_S),
        sci(max_events)
    )))
}

/// 1234567 -> "1.2e6"; small numbers as they are.
pub fn sci(x: f64) -> String {
    if x.abs() < 1e6 {
        format!("{:.0}", x)
    } else {
        format!("{:.1e}", x)
    }
}

/// Seconds in words: "40 s", "12 min", "3.5 h", "2.1 days", "35 years".
pub fn duration_words(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 2.0 * 86400.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s < 730.0 * 86400.0 {
        format!("{:.1} days", s / 86400.0)
    } else {
        format!("{:.0} years", s / (365.25 * 86400.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_in_the_units_the_flags_take() {
        assert_eq!(bytes_text(parse_bytes("10G").unwrap()), "10G");
        assert_eq!(bytes_text(parse_bytes("512M").unwrap()), "512M");
        assert_eq!(bytes_text(1536.0), "1.5K");
        assert_eq!(bytes_text(1.0), "1 bytes");
        assert_eq!(bytes_text(3.3e12), "3T");
    }
    use std::path::Path;

    fn cfg(text: &str) -> ModelConfig {
        crate::scenario::load_str(Path::new("t.toml"), text, None, &[])
            .unwrap()
            .model
    }

    const ONE_HOUR: &str = "start = \"09:00\"\nend = \"10:00\"\ndrain = \"0s\"\n[carriers.c]\n[sources.s]\nrate = \"2/s\"\n";

    #[test]
    fn calls_and_legs_follow_the_profile() {
        let w = estimate(&cfg(ONE_HOUR));
        assert!((w.calls.unwrap() - 7200.0).abs() < 1e-6);
        assert!((w.legs - 7200.0).abs() < 1e-6);
        assert!((w.timeline_rows - 61.0).abs() < 1e-9);
    }

    #[test]
    fn retries_bound_the_events_from_above() {
        let base = "start = \"09:00\"\nend = \"10:00\"\ndrain = \"0s\"\n[stages.lb]\nsessions = 10\nservice_time = \"10ms\"\n[sources.r]\nkind = \"request\"\nrate = \"2/s\"\nstages = [\"lb\"]\ntimeout = \"1s\"\n";
        let none = estimate(&cfg(base));
        assert_eq!(none.events_all_retried, none.events);
        let w = estimate(&cfg(&format!("{base}retries = 3\n")));
        assert_eq!(w.events, none.events);
        // 7200 requests x 3 retries x (a backoff timer + a job end and a timeout).
        assert!((w.events_all_retried - w.events - 7200.0 * 3.0 * 3.0).abs() < 1e-6);
    }

    #[test]
    fn absurd_rates_and_timers_are_refused_with_the_cause() {
        let huge = ONE_HOUR.replace("2/s", "1000000000000/s");
        let e = check(&cfg(&huge), DEFAULT_MAX_EVENTS)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("3.6e15 calls") && e.contains("years") && e.contains("lower the rate"),
            "{e}"
        );
        let auto = format!("{ONE_HOUR}[backup]\npolicy = \"auto\"\nauto = {{ metric = \"dial_delay_p95\", window = \"1m\", on_above = \"5s\", off_below = \"1s\", evaluate_every = \"1ns\", min_on = \"1m\" }}\n");
        let e = check(&cfg(&auto), DEFAULT_MAX_EVENTS)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("backup.auto.evaluate_every") && e.contains("3.6e12"),
            "{e}"
        );
        assert!(check(&cfg(ONE_HOUR), DEFAULT_MAX_EVENTS).is_ok());
    }
}
