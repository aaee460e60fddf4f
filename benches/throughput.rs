//! Throughput, measured in one run so ratios are never remembered: the hand-written Erlang-A
//! loop, callsim on the same system, the simulcall and CallRail-day workloads, and parallel
//! replications on 1 thread vs all cores. Prints one JSON object per line (for
//! benches/run.sh) and a table on stderr. Wall-clock numbers: the median of `REPEAT` runs.
//!
//! `cargo bench --bench throughput` (env CALLS sets the Erlang-A length, default 2,000,000).

#[path = "common/handloop.rs"]
mod handloop;

use callsim::metrics;
use callsim::model::CallSink;
use callsim::run::{run_replications, RunOptions};
use callsim::scenario::load;
use std::path::Path;
use std::time::Instant;

const REPEAT: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn none(_r: u32) -> Result<Option<Box<dyn CallSink + Send>>, callsim::error::Error> {
    Ok(None)
}

/// Named metrics of each replication.
type Metrics = Vec<Vec<(String, f64)>>;

/// Runs a bundled scenario `REPEAT` times; returns (calls, events, median wall s, metrics).
fn callsim_run(
    file: &str,
    sets: &[String],
    replications: u32,
    threads: usize,
) -> (u64, u64, f64, Metrics) {
    let sc = load(Path::new(file), None, sets).expect("bench scenario loads");
    let opts = RunOptions {
        seed: sc.seed,
        replications,
        threads,
        progress: false,
        label: String::new(),
        timeline: false,
    };
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..REPEAT {
        let t = Instant::now();
        let r = run_replications(&sc, &opts, &none).expect("runs");
        times.push(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    let r = last.unwrap();
    let calls = r.iter().map(|x| x.obs.counts.offered).sum();
    let events = r.iter().map(|x| x.obs.events).sum();
    let cols = metrics::columns(&sc.model);
    let m = r
        .iter()
        .map(|x| {
            let values = metrics::values(&cols, &x.obs);
            cols.iter().map(|c| c.name.clone()).zip(values).collect()
        })
        .collect();
    (calls, events, median(times), m)
}

fn main() {
    // `cargo bench` passes --bench; nothing else is accepted.
    let calls: u64 = std::env::var("CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let json = |name: &str, fields: String| println!("{{\"bench\":\"{name}\",{fields}}}");

    // 1. The hand-written loop.
    let mut times = Vec::new();
    let mut hl = None;
    for _ in 0..REPEAT {
        let t = Instant::now();
        let r = handloop::erlang_a(calls, 100, 0.475, 200.0, 90.0, 42);
        times.push(t.elapsed().as_secs_f64());
        hl = Some(r);
    }
    let hl = hl.unwrap();
    let hl_s = median(times);
    let hl_cps = hl.calls as f64 / hl_s;
    json("handloop_erlang_a", format!("\"calls\":{},\"events\":{},\"wall_s\":{hl_s},\"calls_per_s\":{hl_cps},\"events_per_s\":{},\"p_abandon\":{}", hl.calls, hl.events, hl.events as f64 / hl_s, hl.abandoned as f64 / hl.calls as f64));

    // 2. callsim on the same system.
    let (c, e, s, m) = callsim_run(
        "scenarios/bench/erlang-a-c100.toml",
        &[format!("calls={calls}")],
        1,
        1,
    );
    let cps = c as f64 / s;
    let p_ab = m[0].iter().find(|x| x.0 == "abandon_ratio").unwrap().1;
    json("callsim_erlang_a", format!("\"calls\":{c},\"events\":{e},\"wall_s\":{s},\"calls_per_s\":{cps},\"events_per_s\":{},\"p_abandon\":{p_ab},\"ratio_to_handloop\":{}", e as f64 / s, cps / hl_cps));

    // 3. Simulcall under a dial limit, and the CallRail day.
    let (c, e, s, _) = callsim_run("scenarios/bench/simulcall-dial-limit.toml", &[], 1, 1);
    json(
        "callsim_simulcall",
        format!(
            "\"calls\":{c},\"events\":{e},\"wall_s\":{s},\"calls_per_s\":{},\"events_per_s\":{}",
            c as f64 / s,
            e as f64 / s
        ),
    );
    let (c, e, s, _) = callsim_run("scenarios/bench/callrail-day.toml", &[], 1, 1);
    json(
        "callsim_callrail_day",
        format!(
            "\"calls\":{c},\"events\":{e},\"wall_s\":{s},\"calls_per_s\":{},\"events_per_s\":{}",
            c as f64 / s,
            e as f64 / s
        ),
    );

    // 4. Parallel replications: 8 CallRail replications on 1 thread and on all cores; the
    //    metrics must be identical.
    let cores = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1);
    let (_, _, s1, m1) = callsim_run("scenarios/callrail-2018-05-14.toml", &[], 8, 1);
    let (_, _, sn, mn) = callsim_run("scenarios/callrail-2018-05-14.toml", &[], 8, cores);
    let same = format!("{m1:?}") == format!("{mn:?}");
    json("parallel_8_replications", format!("\"threads\":{cores},\"wall_s_1_thread\":{s1},\"wall_s_all\":{sn},\"speedup\":{},\"identical\":{same}", s1 / sn));
    assert!(same, "parallel output differs from one thread");
}
