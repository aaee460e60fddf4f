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
    while let Some(Reverse((t, _, e))) = heap.pop() {
        events += 1;
        match e {
            Ev::Arrival => {
                let id = arrived;
                arrived += 1;
                if busy < channels {
                    busy += 1;
                    push(&mut heap, t + ns(talk.sample(&mut rng)), Ev::Departure);
                } else {
                    waiting[(id % ring as u64) as usize] = true;
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
                    abandoned += 1;
                }
            }
        }
    }
    HandLoopResult {
        calls: arrived,
        abandoned,
        events,
    }
}
