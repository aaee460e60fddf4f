//! Scaling: ns per event and bytes per call in flight, callsim beside the hand-written loops,
//! measured in one run (interleaved: hand loop, callsim, hand loop, ... ; medians of `REPEAT`).
//!
//! - Erlang-A (M/M/c+M, talk 200 s, patience 90 s, load 0.95 c) at c = 100 .. 100,000: calls in
//!   flight follow c.
//! - Simulcall fan-out k = 1 .. 10 on an unlimited carrier (50 calls/s, answers after
//!   exponential 20 s per leg, talk 60 s, patience 90 s).
//!
//! Bytes per call in flight: the peak of heap bytes allocated during the run (a counting global
//! allocator; Vec slack included, as it is real memory) over the most calls in flight at once.
//! Prints one JSON object per line and a markdown table on stderr.
//!
//! `cargo bench --bench scaling` (env CALLS, default 2,000,000 Erlang-A calls; fan-out runs
//! use half as many).

#[path = "common/handloop.rs"]
mod handloop;

use callsim::model::Model;
use callsim::scenario::{load, load_str};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

const REPEAT: usize = 3;

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        // Counted as the net change: the old block's bytes, held for the copy, are not state.
        if !q.is_null() && new >= l.size() {
            let now = CURRENT.fetch_add(new - l.size(), Relaxed) + new - l.size();
            PEAK.fetch_max(now, Relaxed);
        } else if !q.is_null() {
            CURRENT.fetch_sub(l.size() - new, Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// One measurement: events, calls in flight at most, wall seconds, bytes allocated at peak
/// above what was allocated before the run.
struct Run {
    events: u64,
    in_flight: u64,
    wall_s: f64,
    peak_bytes: usize,
}

fn measure(f: impl FnOnce() -> (u64, u64)) -> Run {
    let before = CURRENT.load(Relaxed);
    PEAK.store(before, Relaxed);
    let t = Instant::now();
    let (events, in_flight) = f();
    let wall_s = t.elapsed().as_secs_f64();
    Run {
        events,
        in_flight,
        wall_s,
        peak_bytes: PEAK.load(Relaxed) - before,
    }
}

fn callsim(sc: &callsim::scenario::Scenario) -> (u64, u64) {
    let cfg = &sc.model;
    let arrivals = Model::default_arrivals(cfg, sc.seed, 0).expect("profile sources");
    let obs = Model::new(cfg, sc.seed, 0, arrivals, None, false).run(&mut |_| {});
    (obs.events, obs.calls_in_flight_max as u64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Interleaves the hand loop and callsim `REPEAT` times; prints a JSON line, returns a row.
fn compare(
    bench: &str,
    x: u64,
    hand: &dyn Fn() -> (u64, u64),
    sim: &dyn Fn() -> (u64, u64),
) -> String {
    let (mut hs, mut cs) = (Vec::new(), Vec::new());
    for _ in 0..REPEAT {
        hs.push(measure(hand));
        cs.push(measure(sim));
    }
    let ns = |v: &[Run]| median(v.iter().map(|r| r.wall_s * 1e9 / r.events as f64).collect());
    let per_call = |v: &[Run]| v[0].peak_bytes as f64 / v[0].in_flight.max(1) as f64;
    let (h_ns, c_ns) = (ns(&hs), ns(&cs));
    // Both simulate the same calls (events per call differ: callsim settles instant work
    // without events), so the ratio is of wall times: hand loop over callsim.
    let wall = |v: &[Run]| median(v.iter().map(|r| r.wall_s).collect());
    let ratio = wall(&hs) / wall(&cs);
    println!(
        "{{\"bench\":\"{bench}\",\"x\":{x},\"handloop_ns_per_event\":{h_ns:.1},\"callsim_ns_per_event\":{c_ns:.1},\"handloop_events\":{},\"callsim_events\":{},\"handloop_in_flight_max\":{},\"callsim_in_flight_max\":{},\"handloop_bytes_per_call_in_flight\":{:.1},\"callsim_bytes_per_call_in_flight\":{:.1},\"ratio_to_handloop\":{ratio:.3}}}",
        hs[0].events, cs[0].events, hs[0].in_flight, cs[0].in_flight, per_call(&hs), per_call(&cs)
    );
    format!(
        "| {bench} | {x} | {} | {h_ns:.1} | {c_ns:.1} | {:.0} | {:.0} | {ratio:.2}x |",
        cs[0].in_flight,
        per_call(&hs),
        per_call(&cs)
    )
}

const FANOUT: &str = r#"
name = "bench: simulcall fan-out on an unlimited carrier"
seed = 42
replications = 1
start = "00:00"
duration = "7000h"
timeline_interval = "24h"
[carriers.trunk]
[sources.callers]
rate = "50/s"
talk_time = { dist = "exponential", mean = "60s" }
patience = { dist = "exponential", mean = "90s" }
[sources.callers.flow]
legs = 1
destinations = [ { answer_probability = 1.0, time_to_answer = { dist = "exponential", mean = "20s" }, ring_timeout = "1h" } ]
"#;

fn main() {
    let calls: u64 = std::env::var("CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let mut rows = vec![
        "| workload | c or k | calls in flight (callsim) | hand loop ns/event | callsim ns/event | hand loop bytes/call in flight | callsim bytes/call in flight | callsim / hand loop (calls/s) |".to_string(),
        "|---|---|---|---|---|---|---|---|".to_string(),
    ];
    for c in [100u32, 1_000, 10_000, 100_000] {
        let rate = 0.475 * f64::from(c) / 100.0;
        let sets = vec![
            format!("calls={calls}"),
            format!("carriers.trunk.channels={c}"),
            format!("sources.callers.rate={rate}/s"),
        ];
        let sc = load(Path::new("scenarios/bench/erlang-a-c100.toml"), None, &sets)
            .expect("bench scenario loads");
        let hand = || {
            let r = handloop::erlang_a(calls, c, rate, 200.0, 90.0, 42);
            (r.events, r.in_flight_max)
        };
        rows.push(compare("erlang_a", u64::from(c), &hand, &|| callsim(&sc)));
    }
    let fan_calls = calls / 2;
    for k in [1u32, 2, 5, 10] {
        let sets = vec![
            format!("calls={fan_calls}"),
            format!("sources.callers.flow.legs={k}"),
        ];
        let sc = load_str(Path::new("fanout.toml"), FANOUT, None, &sets).expect("loads");
        let hand = || {
            let r = handloop::simulcall(fan_calls, k, 50.0, 20.0, 60.0, 90.0, 42);
            (r.events, r.in_flight_max)
        };
        rows.push(compare("fan_out", u64::from(k), &hand, &|| callsim(&sc)));
    }
    eprintln!("{}", rows.join("\n"));
}
