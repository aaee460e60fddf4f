//! Scenario + seed -> model -> engine -> observations, for many replications in parallel
//! (across replications; each replication is single-threaded). Results are ordered by
//! replication index, so output is identical whatever the thread count.

use crate::error::{Context, Error, Result};
use crate::model::config::ArrivalSpec;
use crate::model::obs::Observations;
use crate::model::{profile_stream, ArrivalStream, CallSink, Model};
use crate::scenario::trace::TraceReader;
use crate::scenario::Scenario;
use crate::time::SimTime;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct ReplicationResult {
    pub replication: u32,
    pub obs: Observations,
    /// Wall-clock seconds of this replication (terminal only; never written to CSV).
    pub wall_s: f64,
}

pub struct RunOptions {
    pub seed: u64,
    pub replications: u32,
    /// Worker threads; 0 = all cores.
    pub threads: usize,
    /// Show progress on stderr when it is a terminal and the run takes a while.
    pub progress: bool,
    pub label: String,
    /// Keep timeline rows (and their per-interval histograms); off when nobody reads them.
    pub timeline: bool,
}

/// Makes the per-call sink of one replication (None: no per-call output).
pub type SinkFactory<'a> = dyn Fn(u32) -> Result<Option<Box<dyn CallSink + Send>>> + Sync + 'a;

/// Runs every replication on a rayon pool; returns them in replication order. The first
/// failing replication stops the run (replications not yet started are skipped) and its error
/// is returned. Progress (simulated time of every replication, with an ETA) goes to stderr when
/// it is a terminal.
pub fn run_replications(
    sc: &Scenario,
    opts: &RunOptions,
    sinks: &SinkFactory,
) -> Result<Vec<ReplicationResult>> {
    let all: Vec<u32> = (0..opts.replications).collect();
    run_listed(sc, opts, &all, sinks)
}

/// As `run_replications`, for the listed replication indices (a shard's), in that order.
pub fn run_listed(
    sc: &Scenario,
    opts: &RunOptions,
    reps: &[u32],
    sinks: &SinkFactory,
) -> Result<Vec<ReplicationResult>> {
    run_map(sc, opts, reps, sinks, &Ok)
}

/// As `run_listed`, reducing each replication with `reduce` on its worker as soon as it ends,
/// so only the reduced values are kept (memory does not grow with the replications' size).
pub fn run_map<T: Send>(
    sc: &Scenario,
    opts: &RunOptions,
    reps: &[u32],
    sinks: &SinkFactory,
    reduce: &(dyn Fn(ReplicationResult) -> Result<T> + Sync),
) -> Result<Vec<T>> {
    let n = reps.len();
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |p| p.get())
    } else {
        opts.threads
    }
    .clamp(1, n.max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::failure(format!("cannot start worker threads: {e}")))?;
    let bar = progress_bar(n as u64 * PROGRESS_STEPS, opts);
    let span = (sc.model.end.as_ns() - sc.model.start.as_ns()).max(1);
    let start_ns = sc.model.start.as_ns();
    let out = pool.install(|| {
        reps.par_iter()
            .map(|&i| {
                let mut shown = 0u64;
                let r =
                    run_one_caught(sc, opts.seed, i, opts.timeline, sinks, &mut |t: SimTime| {
                        let done =
                            (t.as_ns().saturating_sub(start_ns) as u128 * PROGRESS_STEPS as u128
                                / span as u128)
                                .min(PROGRESS_STEPS as u128 - 1) as u64;
                        if done > shown {
                            bar.inc(done - shown);
                            shown = done;
                        }
                    });
                bar.inc(PROGRESS_STEPS - shown);
                r.and_then(reduce)
            })
            .collect::<Result<Vec<_>>>()
    });
    bar.finish_and_clear();
    out
}

/// Progress steps per replication (its simulated time in thousandths).
const PROGRESS_STEPS: u64 = 1000;

fn progress_bar(len: u64, opts: &RunOptions) -> ProgressBar {
    if !opts.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {percent:>3}%  {elapsed} elapsed, ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("#>-"),
    );
    bar.set_prefix(format!(
        "{} ({} replications)",
        opts.label, opts.replications
    ));
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// `run_one`, with a panic (a bug) turned into an error for this replication instead of a
/// crash or hang of the whole run.
pub fn run_one_caught(
    sc: &Scenario,
    seed: u64,
    replication: u32,
    timeline: bool,
    sinks: &SinkFactory,
    progress: &mut dyn FnMut(SimTime),
) -> Result<ReplicationResult> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_one(sc, seed, replication, timeline, sinks, progress)
    }))
    .unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(Error::failure(format!("internal error in replication {replication} (please report it with the scenario and seed): {msg}")))
    })
}

/// One replication of `sc`.
pub fn run_one(
    sc: &Scenario,
    seed: u64,
    replication: u32,
    timeline: bool,
    sinks: &SinkFactory,
    progress: &mut dyn FnMut(SimTime),
) -> Result<ReplicationResult> {
    let cfg = &sc.model;
    let mut errors: Vec<Arc<Mutex<Option<String>>>> = Vec::new();
    let mut streams = Vec::with_capacity(cfg.sources.len());
    for s in &cfg.sources {
        match &s.arrivals {
            ArrivalSpec::Profile(p) => {
                streams.push(profile_stream(cfg, s, p, seed, replication as u64))
            }
            ArrivalSpec::Trace(t) => {
                let reader = TraceReader::open(&t.path, &t.column).map_err(Error::Input)?;
                let err = Arc::new(Mutex::new(None));
                errors.push(err.clone());
                streams.push(ArrivalStream::Trace(Box::new(ErrorCapture {
                    inner: reader,
                    err,
                })));
            }
        }
    }
    let mut sink = sinks(replication)?;
    let wall = Instant::now();
    let obs = {
        let sink_ref: Option<&mut dyn CallSink> = match sink.as_mut() {
            Some(b) => Some(b.as_mut() as &mut dyn CallSink),
            None => None,
        };
        Model::new(cfg, seed, replication as u64, streams, sink_ref, timeline)
            .run_within(progress, &sc.limits)
            .map_err(model_error)
            .with_context(|| format!("replication {replication}"))?
    };
    for e in errors {
        if let Some(m) = e.lock().expect("lock").take() {
            return Err(Error::input(format!(
                "trace became unreadable during the run: {m}"
            )));
        }
    }
    if let Some(s) = sink.as_mut() {
        s.finish().map_err(Error::Failed)?;
    }
    Ok(ReplicationResult {
        replication,
        obs,
        wall_s: wall.elapsed().as_secs_f64(),
    })
}

/// A model's error: stopped at its runtime budget (marked by `OVER_BUDGET`), or failed.
fn model_error(m: String) -> Error {
    if m.starts_with(crate::model::limits::OVER_BUDGET) {
        Error::Stopped(m)
    } else {
        Error::Failed(m)
    }
}

/// Passes trace instants through and keeps the reader's error for after the run.
struct ErrorCapture {
    inner: TraceReader,
    err: Arc<Mutex<Option<String>>>,
}

impl Iterator for ErrorCapture {
    type Item = SimTime;
    fn next(&mut self) -> Option<SimTime> {
        let t = self.inner.next();
        if t.is_none() {
            if let Some(e) = self.inner.error.take() {
                *self.err.lock().expect("lock") = Some(e);
            }
        }
        t
    }
}
