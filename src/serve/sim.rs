//! One what-if run for the dashboard: load the scenario with the request's variant and `--set`
//! values (the CLI's loader, so the errors are the CLI's), check it against the budget, run its
//! replications on a rayon pool of blocking threads, and after each finished replication build
//! the charts of the replications so far (the report's time charts). A cancelled run stops at
//! the engine's next progress call: the callback unwinds out of the replication, which
//! `run::run_one_caught` turns into an error, and the partial results are dropped. The result
//! is deterministic for (scenario, variant, sets, seed, replications) whatever the thread count.

use crate::budget::Budget;
use crate::model::config::ModelConfig;
use crate::model::obs::TimelineRow;
use crate::report::charts::{self, Line, Marker, Shade, TimeChart};
use crate::scenario::Scenario;
use crate::time::SimTime;
use rayon::prelude::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the page asked for.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub file: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub sets: Vec<String>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub replications: Option<u32>,
    /// The page's session: a new run of the same client cancels its previous one.
    #[serde(default)]
    pub client: Option<String>,
}

/// A loaded run, ready to go.
pub struct Prepared {
    pub sc: Scenario,
    pub seed: u64,
    pub replications: u32,
    /// (scenario file hash, variant, sets, seed, replications).
    pub cache_key: String,
    /// The equivalent command line.
    pub command: String,
}

/// A message from a running job to its event stream.
#[derive(Debug)]
pub enum Msg {
    /// Share of the work done, 0..=1.
    Progress(f64),
    /// Charts of the replications finished so far.
    Partial(Value),
    Done(Arc<Value>),
    Error(String),
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The `callsim run` line that gives the same numbers.
pub fn command_line(display: &str, p: &RunRequest, seed: u64, reps: u32) -> String {
    let mut c = format!("callsim run {}", shell_quote(display));
    if let Some(v) = &p.variant {
        c.push_str(&format!(" --variant {}", shell_quote(v)));
    }
    for s in &p.sets {
        c.push_str(&format!(" --set {}", shell_quote(s)));
    }
    c.push_str(&format!(" --seed {seed} -n {reps}"));
    c
}

/// Keys charted per timeline row: offered, connected, abandoned, dial delay p95 (s), queue.
const SERIES: usize = 5;

/// One replication reduced to what the charts need.
struct RepSeries {
    rows: Vec<[f64; SERIES]>,
    backup_on: Vec<bool>,
    totals: [f64; 3],
}

fn reduce(rows: &[TimelineRow], per_min: f64) -> RepSeries {
    let mut totals = [0.0; 3];
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let c = &r.counts;
        let abandoned = (c.abandoned_waiting + c.abandoned_ringing) as f64;
        totals[0] += c.offered as f64;
        totals[1] += c.connected as f64;
        totals[2] += abandoned;
        out.push([
            c.offered as f64 * per_min,
            c.connected as f64 * per_min,
            abandoned * per_min,
            r.dial_delay_ms_p95 / 1000.0,
            r.queue_len_max as f64,
        ]);
    }
    RepSeries {
        rows: out,
        backup_on: rows.iter().map(|r| r.backup_on).collect(),
        totals,
    }
}

/// Raised inside a replication's progress callback to stop it.
struct Cancelled;

/// Runs `p` on a pool of `threads` blocking threads, sending progress and partial charts to
/// `tx`. Returns the final payload, or None when cancelled (or the receiver went away).
pub fn run(
    p: &Prepared,
    threads: usize,
    cancel: &(dyn Fn() -> bool + Sync),
    tx: &tokio::sync::mpsc::Sender<Msg>,
) -> Result<Option<Value>, String> {
    let n = p.replications as usize;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.clamp(1, n.max(1)))
        .build()
        .map_err(|e| format!("cannot start worker threads: {e}"))?;
    let cfg = &p.sc.model;
    let per_min = 60.0 / cfg.interval.as_secs_f64();
    let span = (cfg.end.as_ns() - cfg.start.as_ns()).max(1) as f64;
    let done: Mutex<Vec<(u32, RepSeries)>> = Mutex::new(Vec::new());
    let progress: Vec<Mutex<f64>> = (0..n).map(|_| Mutex::new(0.0)).collect();
    let last_sent = Mutex::new(Instant::now());
    let stop = || cancel() || tx.is_closed();
    let no_sinks = |_: u32| Ok(None);
    let result = pool.install(|| {
        (0..p.replications)
            .into_par_iter()
            .map(|i| {
                if stop() {
                    return Err(String::new());
                }
                let mut on_progress = |t: SimTime| {
                    if stop() {
                        std::panic::resume_unwind(Box::new(Cancelled));
                    }
                    let f = (t.as_ns().saturating_sub(cfg.start.as_ns()) as f64 / span).min(1.0);
                    *progress[i as usize].lock().expect("lock") = f;
                    let mut last = last_sent.lock().expect("lock");
                    if last.elapsed() > Duration::from_millis(100) {
                        *last = Instant::now();
                        let sum: f64 = progress.iter().map(|m| *m.lock().expect("lock")).sum();
                        let _ = tx.try_send(Msg::Progress(sum / n as f64));
                    }
                };
                let r =
                    crate::run::run_one_caught(&p.sc, p.seed, i, true, &no_sinks, &mut on_progress);
                let r = match r {
                    Err(_) if stop() => return Err(String::new()),
                    other => other.map_err(|e| e.to_string())?,
                };
                *progress[i as usize].lock().expect("lock") = 1.0;
                let series = reduce(&r.obs.timeline.rows, per_min);
                let mut all = done.lock().expect("lock");
                all.push((i, series));
                all.sort_by_key(|x| x.0);
                if all.len() < n {
                    let partial = payload(p, &all, false);
                    drop(all);
                    let _ = tx.blocking_send(Msg::Partial(partial));
                }
                Ok(())
            })
            .collect::<Result<Vec<()>, String>>()
    });
    match result {
        Err(_) if stop() => Ok(None),
        Err(e) => Err(e),
        Ok(_) => {
            let all = done.into_inner().expect("lock");
            Ok(Some(payload(p, &all, true)))
        }
    }
}

/// Points (x, mean) and band (x, low, high) of one series.
type Series = (Vec<(f64, f64)>, Vec<(f64, f64, f64)>);

/// Mean and 95% interval of each series over the replications, per timeline row.
fn series_of(reps: &[(u32, RepSeries)], k: usize, x0: f64, step: f64) -> Series {
    let rows = reps.iter().map(|r| r.1.rows.len()).min().unwrap_or(0);
    let mut pts = Vec::with_capacity(rows);
    let mut band = Vec::new();
    for j in 0..rows {
        let v: Vec<f64> = reps.iter().map(|r| r.1.rows[j][k]).collect();
        let e = crate::stats::estimate(&v, 0.95);
        let x = x0 + j as f64 * step;
        pts.push((x, e.mean));
        if reps.len() > 1 && e.low().is_finite() {
            band.push((x, e.low().max(0.0), e.high()));
        }
    }
    (pts, band)
}

fn shades(reps: &[(u32, RepSeries)], x0: f64, step: f64) -> Vec<Shade> {
    let rows = reps.iter().map(|r| r.1.backup_on.len()).min().unwrap_or(0);
    let mut out: Vec<Shade> = Vec::new();
    for j in 0..rows {
        let on = reps.iter().filter(|r| r.1.backup_on[j]).count() * 2 > reps.len();
        if !on {
            continue;
        }
        let (a, b) = (x0 + j as f64 * step, x0 + (j + 1) as f64 * step);
        match out.last_mut() {
            Some(s) if (s.to - a).abs() < 1e-9 => s.to = b,
            _ => out.push(Shade {
                from: a,
                to: b,
                label: "backup on".into(),
                backup: true,
            }),
        }
    }
    out
}

fn markers(cfg: &ModelConfig) -> Vec<Marker> {
    cfg.changes
        .iter()
        .map(|c| Marker {
            at: c.at.as_secs_f64(),
            label: c.label.clone(),
        })
        .collect()
}

/// The charts and summary of the replications in `reps` (sorted by index).
fn payload(p: &Prepared, reps: &[(u32, RepSeries)], complete: bool) -> Value {
    let cfg = &p.sc.model;
    let (x0, step) = (cfg.start.as_secs_f64(), cfg.interval.as_secs_f64());
    let x1 = cfg
        .end
        .plus(cfg.drain)
        .as_secs_f64()
        .min(x0 + step * reps.iter().map(|r| r.1.rows.len()).max().unwrap_or(1) as f64);
    let line = |k: usize, name: &str, colour: usize| {
        let (pts, band) = series_of(reps, k, x0, step);
        Line {
            name: name.into(),
            pts,
            band,
            colour,
            dashed: false,
            tips: true,
        }
    };
    let specs: [(&str, &str, &str, Vec<Line>); 3] = [
        (
            "calls",
            "Calls per minute",
            "calls",
            vec![
                line(0, "offered", 0),
                line(1, "connected", 2),
                line(2, "abandoned", 3),
            ],
        ),
        (
            "dial_delay",
            "Dial delay p95 (s)",
            "s",
            vec![line(3, "dial delay p95", 0)],
        ),
        (
            "queue",
            "Carrier queue (max per interval)",
            "legs",
            vec![line(4, "queued legs", 1)],
        ),
    ];
    let mut out = Vec::new();
    for (id, title, unit, lines) in specs {
        let tc = TimeChart {
            id: id.into(),
            title: title.into(),
            y_label: title.into(),
            unit: unit.into(),
            x_range: (x0, x1.max(x0 + step)),
            lines,
            shades: shades(reps, x0, step),
            markers: markers(cfg),
        };
        match charts::time_chart(&tc) {
            Ok(c) => {
                out.push(json!({"id": c.id, "title": c.title, "svg": c.svg, "points": c.points}))
            }
            Err(e) => out.push(json!({"id": id, "title": title, "error": e.to_string()})),
        }
    }
    let ratio = |k: usize| {
        let v: Vec<f64> = reps
            .iter()
            .map(|r| r.1.totals[k] / r.1.totals[0].max(1.0))
            .collect();
        let e = crate::stats::estimate(&v, 0.95);
        json!({"mean": e.mean, "low": e.low(), "high": e.high()})
    };
    json!({
        "complete": complete,
        "replications_done": reps.len(),
        "replications": p.replications,
        "seed": p.seed,
        "command": p.command,
        "charts": out,
        "summary": {"connected_ratio": ratio(1), "abandon_ratio": ratio(2)},
    })
}

/// The budget a dashboard run stays within: the CLI's default limits, with every replication
/// of every concurrent run holding a timeline.
pub fn budget(threads: usize, concurrent: usize) -> Budget {
    let threads = (threads * concurrent).max(1) as f64;
    Budget {
        max_events: crate::budget::DEFAULT_MAX_EVENTS,
        max_memory: crate::budget::default_max_memory(),
        parallel: threads,
        threads,
    }
}
