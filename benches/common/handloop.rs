//! The reference point for engine throughput: a minimal hand-written simulation of exactly the
//! Erlang-A system of `scenarios/bench/erlang-a-c100.toml` (std BinaryHeap of (time, seq),
//! Xoshiro256++, exponential draws, FIFO queue with lazy removal of abandoned callers, nothing
//! else). callsim's throughput is reported as a ratio to this loop, measured in the same run.

use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrival,
    Departure,
    Abandon(u64),
}

// Each bench binary includes this file and reads a different subset of the fields.
#[allow(dead_code)]
pub struct HandLoopResult {
    pub calls: u64,
    pub abandoned: u64,
    pub events: u64,
    /// Most calls in flight at once (talking or waiting).
    pub in_flight_max: u64,
}

/// Simulates `calls` arrivals of M/M/c+M with integer-nanosecond time.
pub fn erlang_a(
    calls: u64,
    channels: u32,
    arrival_per_s: f64,
    talk_mean_s: f64,
    patience_mean_s: f64,
    seed: u64,
) -> HandLoopResult {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let ia = Exp::new(arrival_per_s).unwrap();
    let talk = Exp::new(1.0 / talk_mean_s).unwrap();
    let pat = Exp::new(1.0 / patience_mean_s).unwrap();
    let ns = |s: f64| (s * 1e9) as u64;
    let mut heap: BinaryHeap<Reverse<(u64, u64, Ev)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<Reverse<(u64, u64, Ev)>>, t: u64, e: Ev| {
        heap.push(Reverse((t, seq, e)));
        seq += 1;
    };
    push(&mut heap, ns(ia.sample(&mut rng)), Ev::Arrival);
    let mut busy = 0u32;
    let mut queue: VecDeque<u64> = VecDeque::new();
    let mut waiting: Vec<bool> = Vec::new(); // indexed by customer id modulo a ring
    let ring = 1 << 16;
    waiting.resize(ring, false);
    let (mut arrived, mut abandoned, mut events) = (0u64, 0u64, 0u64);
    let (mut queued_live, mut in_flight_max) = (0u64, 0u64);
    while let Some(Reverse((t, _, e))) = heap.pop() {
        events += 1;
        in_flight_max = in_flight_max.max(u64::from(busy) + queued_live);
        match e {
            Ev::Arrival => {
                let id = arrived;
                arrived += 1;
                if busy < channels {
                    busy += 1;
                    push(&mut heap, t + ns(talk.sample(&mut rng)), Ev::Departure);
                } else {
                    waiting[(id % ring as u64) as usize] = true;
                    queued_live += 1;
                    queue.push_back(id);
                    push(&mut heap, t + ns(pat.sample(&mut rng)), Ev::Abandon(id));
                }
                if arrived < calls {
                    push(&mut heap, t + ns(ia.sample(&mut rng)), Ev::Arrival);
                }
            }
            Ev::Departure => {
                busy -= 1;
                while let Some(id) = queue.pop_front() {
                    let w = &mut waiting[(id % ring as u64) as usize];
                    if *w {
                        *w = false;
                        queued_live -= 1;
                        busy += 1;
                        push(&mut heap, t + ns(talk.sample(&mut rng)), Ev::Departure);
                        break;
                    }
                }
            }
            Ev::Abandon(id) => {
                let w = &mut waiting[(id % ring as u64) as usize];
                if *w {
                    *w = false;
                    queued_live -= 1;
                    abandoned += 1;
                }
            }
        }
    }
    HandLoopResult {
        calls: arrived,
        abandoned,
        events,
        in_flight_max,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FanEv {
    Arrival,
    Answer(u32),
    Patience(u32),
    TalkEnd(u32),
}

/// Simulcall on an unlimited carrier: each call rings `k` legs at once, each answered after
/// its own exponential time; the first answer connects the call (the other legs' answers are
/// dropped when they come due, as callsim drops stale events), unless the caller's exponential
/// patience runs out first. Calls live in a slab with a free list (state 0 free, 1 waiting,
/// 2 talking) and a generation, as a careful hand-written simulator would keep them.
#[allow(dead_code)]
pub fn simulcall(
    calls: u64,
    k: u32,
    arrival_per_s: f64,
    answer_mean_s: f64,
    talk_mean_s: f64,
    patience_mean_s: f64,
    seed: u64,
) -> HandLoopResult {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let ia = Exp::new(arrival_per_s).unwrap();
    let answer = Exp::new(1.0 / answer_mean_s).unwrap();
    let talk = Exp::new(1.0 / talk_mean_s).unwrap();
    let pat = Exp::new(1.0 / patience_mean_s).unwrap();
    let ns = |s: f64| (s * 1e9) as u64;
    // (time, seq, event, generation of the call slot)
    let mut heap: BinaryHeap<Reverse<(u64, u64, FanEv, u32)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<Reverse<(u64, u64, FanEv, u32)>>, t, e, g| {
        heap.push(Reverse((t, seq, e, g)));
        seq += 1;
    };
    push(&mut heap, ns(ia.sample(&mut rng)), FanEv::Arrival, 0);
    let (mut state, mut gen, mut free): (Vec<u8>, Vec<u32>, Vec<u32>) = (vec![], vec![], vec![]);
    let (mut arrived, mut abandoned, mut events, mut live, mut in_flight_max) = (0, 0, 0, 0, 0);
    while let Some(Reverse((t, _, e, g))) = heap.pop() {
        events += 1;
        match e {
            FanEv::Arrival => {
                arrived += 1;
                let id = free.pop().unwrap_or_else(|| {
                    state.push(0);
                    gen.push(0);
                    state.len() as u32 - 1
                });
                state[id as usize] = 1;
                let g = gen[id as usize];
                live += 1;
                in_flight_max = in_flight_max.max(live);
                for _ in 0..k {
                    push(
                        &mut heap,
                        t + ns(answer.sample(&mut rng)),
                        FanEv::Answer(id),
                        g,
                    );
                }
                push(
                    &mut heap,
                    t + ns(pat.sample(&mut rng)),
                    FanEv::Patience(id),
                    g,
                );
                if arrived < calls {
                    push(&mut heap, t + ns(ia.sample(&mut rng)), FanEv::Arrival, 0);
                }
            }
            FanEv::Answer(id) | FanEv::Patience(id) | FanEv::TalkEnd(id) => {
                let i = id as usize;
                let expect = if matches!(e, FanEv::TalkEnd(_)) { 2 } else { 1 };
                if gen[i] != g || state[i] != expect {
                    continue; // stale
                }
                match e {
                    FanEv::Answer(_) => {
                        state[i] = 2;
                        push(
                            &mut heap,
                            t + ns(talk.sample(&mut rng)),
                            FanEv::TalkEnd(id),
                            g,
                        );
                    }
                    _ => {
                        abandoned += u64::from(matches!(e, FanEv::Patience(_)));
                        state[i] = 0;
                        gen[i] += 1;
                        free.push(id);
                        live -= 1;
                    }
                }
            }
        }
    }
    HandLoopResult {
        calls: arrived,
        abandoned,
        events,
        in_flight_max,
    }
}
