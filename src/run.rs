//! Scenario + seed -> model -> engine -> observations, for many replications in parallel
//! (across replications; each replication is single-threaded). Results are ordered by
//! replication index, so output is identical whatever the thread count.

use crate::model::config::ArrivalSpec;
use crate::model::obs::Observations;
use crate::model::{profile_stream, ArrivalStream, CallSink, Model};
use crate::scenario::trace::TraceReader;
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
pub type SinkFactory<'a> =
    dyn Fn(u32) -> Result<Option<Box<dyn CallSink + Send>>, String> + Sync + 'a;

/// Runs every replication; returns them in replication order.
pub fn run_replications(
    sc: &Scenario,
    opts: &RunOptions,
    sinks: &SinkFactory,
) -> Result<Vec<ReplicationResult>, String> {
    let n = opts.replications as usize;
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1)
    } else {
        opts.threads
    }
    .clamp(1, n.max(1));
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<ReplicationResult, String>>>> =
        Mutex::new((0..n).map(|_| None).collect());
    let done = AtomicUsize::new(0);
    let sim_ns: Vec<AtomicU64> = (0..threads)
        .map(|_| AtomicU64::new(sc.model.start.as_ns()))
        .collect();
    let finished = AtomicBool::new(false);
    let show = opts.progress && std::io::stderr().is_terminal();
    let start_wall = Instant::now();
    std::thread::scope(|s| {
        for (w, sim) in sim_ns.iter().enumerate().take(threads) {
            let (next, slots, done) = (&next, &slots, &done);
            let _ = w;
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                // A panic in a replication (a bug) becomes an error for this replication, never
                // a hang of the whole run.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_one(sc, opts.seed, i as u32, opts.timeline, sinks, &mut |t: SimTime| {
                        sim.store(t.as_ns(), Ordering::Relaxed)
                    })
                }))
                .unwrap_or_else(|p| {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Err(format!("internal error in replication {i} (please report it with the scenario and seed): {msg}"))
                });
                slots.lock().expect("no poisoned lock")[i] = Some(r);
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        if show {
            let (done, finished, sim_ns) = (&done, &finished, &sim_ns);
            let label = opts.label.clone();
            let span = (sc.model.end.as_ns() - sc.model.start.as_ns()).max(1) as f64;
            let start_ns = sc.model.start.as_ns();
            s.spawn(move || {
                let mut shown = false;
                while !finished.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    if start_wall.elapsed() < Duration::from_secs(2) {
                        continue;
                    }
                    let d = done.load(Ordering::Relaxed);
                    let partial: f64 = sim_ns
                        .iter()
                        .map(|a| {
                            ((a.load(Ordering::Relaxed).saturating_sub(start_ns)) as f64 / span)
                                .min(1.0)
                        })
                        .sum::<f64>()
                        .min((n - d) as f64);
                    let frac = ((d as f64 + partial * 0.999) / n as f64).min(1.0);
                    let width = 30;
                    let filled = (frac * width as f64) as usize;
                    eprint!(
                        "\r{label} [{}{}] {:>5.1}%  replications {d}/{n}  {:.0}s ",
                        "#".repeat(filled),
                        "-".repeat(width - filled),
                        frac * 100.0,
                        start_wall.elapsed().as_secs_f64()
                    );
                    shown = true;
                }
                if shown {
                    eprint!("\r{}\r", " ".repeat(90));
                }
            });
        }
        // Wait for workers, then stop the progress thread.
        while done.load(Ordering::Relaxed) < n {
            std::thread::sleep(Duration::from_millis(5));
            if slots
                .lock()
                .expect("lock")
                .iter()
                .any(|r| matches!(r, Some(Err(_))))
            {
                break;
            }
        }
        finished.store(true, Ordering::Relaxed);
    });
    let slots = slots.into_inner().expect("lock");
    let mut out = Vec::with_capacity(n);
    for r in slots.into_iter().flatten() {
        out.push(r?);
    }
    if out.len() != n {
        return Err("a replication did not finish".into());
    }
    Ok(out)
}

/// One replication of `sc`.
pub fn run_one(
    sc: &Scenario,
    seed: u64,
    replication: u32,
    timeline: bool,
    sinks: &SinkFactory,
    progress: &mut dyn FnMut(SimTime),
) -> Result<ReplicationResult, String> {
    let cfg = &sc.model;
    let mut errors: Vec<Arc<Mutex<Option<String>>>> = Vec::new();
    let mut streams = Vec::with_capacity(cfg.sources.len());
    for s in &cfg.sources {
        match &s.arrivals {
            ArrivalSpec::Profile(p) => {
                streams.push(profile_stream(cfg, s, p, seed, replication as u64))
            }
            ArrivalSpec::Trace(t) => {
                let reader = TraceReader::open(&t.path, &t.column)?;
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
        Model::new(cfg, seed, replication as u64, streams, sink_ref, timeline).run(progress)
    };
    for e in errors {
        if let Some(m) = e.lock().expect("lock").take() {
            return Err(format!("trace became unreadable during the run: {m}"));
        }
    }
    if let Some(s) = sink.as_mut() {
        s.finish()?;
    }
    Ok(ReplicationResult {
        replication,
        obs,
        wall_s: wall.elapsed().as_secs_f64(),
    })
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
