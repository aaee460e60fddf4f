//! Criterion benchmarks: the event queue alone, and each bundled workload at a size criterion
//! can repeat. Wall-clock; for the CI guard see tools/icount.sh (instruction counts).
//! `cargo bench --bench engine`

#[path = "common/handloop.rs"]
mod handloop;

use callsim::engine::Scheduler;
use callsim::model::CallSink;
use callsim::run::{run_one, SinkFactory};
use callsim::scenario::load;
use callsim::time::SimTime;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::path::Path;

fn queue(c: &mut Criterion) {
    // A hold model: a queue of 1,000 pending events; each pop schedules one at a random delay.
    let mut g = c.benchmark_group("event_queue");
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("hold_1000_pending_1M_ops", |b| {
        b.iter_batched(
            || {
                let mut s = Scheduler::new(SimTime(0));
                let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
                for i in 0..1000u32 {
                    s.schedule(SimTime(rng.random_range(0..1_000_000)), i);
                }
                (s, rng)
            },
            |(mut s, mut rng)| {
                for _ in 0..1_000_000 {
                    let (t, e) = s.pop().unwrap();
                    s.schedule(SimTime(t.0 + rng.random_range(0..1_000_000)), black_box(e));
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn workloads(c: &mut Criterion) {
    let none: Box<SinkFactory> = Box::new(|_r| Ok(None::<Box<dyn CallSink + Send>>));
    let mut g = c.benchmark_group("workloads");
    g.sample_size(10);
    for (name, file, sets, calls) in [
        (
            "erlang_a_200k",
            "scenarios/bench/erlang-a-c100.toml",
            vec!["calls=200000".to_string()],
            200_000u64,
        ),
        (
            "simulcall_100k",
            "scenarios/bench/simulcall-dial-limit.toml",
            vec!["calls=100000".to_string()],
            100_000,
        ),
        (
            "callrail_day",
            "scenarios/bench/callrail-day.toml",
            vec![],
            350_000,
        ),
    ] {
        let sc = load(Path::new(file), None, &sets).expect("bench scenario");
        g.throughput(Throughput::Elements(calls));
        g.bench_function(name, |b| {
            b.iter(|| {
                run_one(&sc, sc.seed, 0, false, &*none, &mut |_| {})
                    .unwrap()
                    .obs
                    .events
            })
        });
    }
    g.throughput(Throughput::Elements(200_000));
    g.bench_function("handloop_erlang_a_200k", |b| {
        b.iter(|| handloop::erlang_a(200_000, 100, 0.475, 200.0, 90.0, 42).events)
    });
    g.finish();
}

criterion_group!(benches, queue, workloads);
criterion_main!(benches);
