//! Per-call observations and the bounded accumulators they feed. Each closed call is reduced
//! to its outcome, waits and legs, added to histograms and counters, and dropped.

use super::group::{Call, Leg};
use super::hist::LogHist;
use super::read::Status;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Connected,
    Abandoned,
    NoAnswer,
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Connected,
        Outcome::Abandoned,
        Outcome::NoAnswer,
        Outcome::Failed,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Connected => "connected",
            Outcome::Abandoned => "abandoned",
            Outcome::NoAnswer => "no_answer",
            Outcome::Failed => "failed",
        }
    }
}

/// Most legs a call may have in a scenario; calls with more count as this many.
pub const MAX_LEGS: usize = 10;

/// Tolerance when telling a rang-out leg from a cancelled one by its ringing time: whole-second
/// timestamps truncate both ends of a leg, but a whole-second timeout still reads exact. A caller who hung up within this much of the
/// timeout is taken for a ring-out (Asterisk's `NO ANSWER` cannot tell them apart).
pub fn ring_tolerance(t: f64) -> f64 {
    (0.01 * t).max(0.5)
}

/// A leg's status with `Unanswered` resolved against the ring timeout `t` (NaN: unknown).
pub fn resolve(l: &Leg, t: f64) -> Status {
    match l.status {
        Status::Unanswered if t.is_finite() && l.end - l.start >= t - ring_tolerance(t) => {
            Status::RangOut
        }
        Status::Unanswered => Status::Cancelled,
        s => s,
    }
}

/// What one call tells.
#[derive(Clone, Debug)]
pub struct Obs {
    pub arrival: f64,
    pub outcome: Outcome,
    /// Arrival to answer (connected), to hang-up (abandoned) or to the end (otherwise).
    pub wait: f64,
    pub end: f64,
    pub talk: Option<f64>,
    /// Arrival to the first leg's start (only with a caller record).
    pub setup: Option<f64>,
    /// 0 simulcall, 1 sequential, 2 neither (only with 2+ legs).
    pub flow: Option<usize>,
}

pub fn observe(c: &Call, t: f64) -> Obs {
    let arrival = c.arrival();
    let st: Vec<Status> = c.legs.iter().map(|l| resolve(l, t)).collect();
    let answered = c
        .legs
        .iter()
        .zip(&st)
        .filter(|(_, s)| **s == Status::Answered)
        .filter_map(|(l, _)| l.answer.map(|a| (a, l.end)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let last_end = c
        .legs
        .iter()
        .map(|l| l.end)
        .fold(f64::NEG_INFINITY, f64::max);
    let hangup = c.parent.map(|p| p.1).unwrap_or(last_end);
    let (outcome, wait, end, talk) = match answered {
        Some((a, e)) => (
            Outcome::Connected,
            a - arrival,
            c.parent.map_or(e, |p| p.1.max(e)),
            Some(e - a),
        ),
        None if c.legs.is_empty() => (Outcome::Abandoned, hangup - arrival, hangup, None),
        None => {
            let last = (0..c.legs.len())
                .max_by(|&a, &b| c.legs[a].end.total_cmp(&c.legs[b].end).then(a.cmp(&b)))
                .unwrap_or(0);
            let o = match st[last] {
                Status::Cancelled => Outcome::Abandoned,
                _ if st.iter().all(|s| *s == Status::Failed) => Outcome::Failed,
                _ => Outcome::NoAnswer,
            };
            (
                o,
                hangup.max(last_end) - arrival,
                hangup.max(last_end),
                None,
            )
        }
    };
    let first_start = c.legs.iter().map(|l| l.start).fold(f64::INFINITY, f64::min);
    let setup = c
        .parent
        .filter(|_| !c.legs.is_empty())
        .map(|p| (first_start - p.0).max(0.0));
    Obs {
        arrival,
        outcome,
        wait: wait.max(0.0),
        end,
        talk,
        setup,
        flow: flow_of(&c.legs),
    }
}

fn flow_of(legs: &[Leg]) -> Option<usize> {
    if legs.len() < 2 {
        return None;
    }
    let mut v: Vec<&Leg> = legs.iter().collect();
    v.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.line.cmp(&b.line)));
    if v[v.len() - 1].start - v[0].start <= 1.0 {
        Some(0)
    } else if v.windows(2).all(|w| w[1].start >= w[0].end - 1.0) {
        Some(1)
    } else {
        Some(2)
    }
}

#[derive(Clone, Debug, Default)]
pub struct PosAcc {
    /// Ringing time to answer.
    pub ev: LogHist,
    /// Ringing time of legs that did not answer (cancelled, rang out, busy).
    pub cens: LogHist,
    /// Ringing time of legs cancelled at the instant another leg of their call answered.
    pub tied: LogHist,
    pub failed: u64,
}

/// Redial detection: the same caller again within `window` after an unanswered call.
#[derive(Debug, Default)]
pub struct RedialAcc {
    pub window: f64,
    last: HashMap<u64, (f64, Outcome, u32)>,
    q: VecDeque<(f64, u64)>,
    /// [outcome][attempt] unsuccessful calls, and how many of them were redialled.
    pub unsucc: [[u64; 12]; 4],
    pub redialled: [[u64; 12]; 4],
    pub delay: LogHist,
    pub callers_seen: u64,
    pub max_attempt: u32,
}

impl RedialAcc {
    /// Records a call; returns true if it is a redial.
    pub fn add(&mut self, caller: Option<u64>, o: &Obs) -> bool {
        let Some(c) = caller else { return false };
        self.callers_seen += 1;
        while let Some(&(t, k)) = self.q.front() {
            if t >= o.arrival - self.window {
                break;
            }
            self.q.pop_front();
            if self.last.get(&k).is_some_and(|x| x.0 == t) {
                self.last.remove(&k);
            }
        }
        let prev = self.last.get(&c).copied();
        let redial = prev.filter(|p| {
            p.1 != Outcome::Connected && o.arrival >= p.0 && o.arrival - p.0 <= self.window
        });
        let attempt = match redial {
            Some((end, out, a)) => {
                self.redialled[out as usize][(a as usize).min(11)] += 1;
                self.delay.add(o.arrival - end);
                a + 1
            }
            None => 1,
        };
        self.max_attempt = self.max_attempt.max(attempt);
        if o.outcome != Outcome::Connected {
            self.unsucc[o.outcome as usize][(attempt as usize).min(11)] += 1;
        }
        self.last.insert(c, (o.end, o.outcome, attempt));
        self.q.push_back((o.end, c));
        redial.is_some()
    }
}

/// Arrival instants for `--trace`, re-ordered through a bounded heap: an instant is written
/// once the watermark has passed it by `lag`; later ones that are earlier still are dropped
/// and counted.
pub struct TraceOut {
    pub w: std::io::BufWriter<std::fs::File>,
    heap: BinaryHeap<std::cmp::Reverse<u64>>,
    lag: f64,
    pub written: u64,
    pub dropped: u64,
    last: f64,
    pub max_clock: f64,
}

impl TraceOut {
    pub fn new(w: std::io::BufWriter<std::fs::File>, lag: f64) -> std::io::Result<TraceOut> {
        let mut t = TraceOut {
            w,
            heap: BinaryHeap::new(),
            lag,
            written: 0,
            dropped: 0,
            last: 0.0,
            max_clock: 0.0,
        };
        writeln!(t.w, "time")?;
        Ok(t)
    }
    pub fn push(&mut self, clock: f64) {
        if clock < self.last || clock < 0.0 {
            self.dropped += 1;
        } else {
            self.heap.push(std::cmp::Reverse(clock.to_bits()));
        }
    }
    /// Writes every instant before `upto − lag` (all of them with `upto` = ∞).
    pub fn drain(&mut self, upto: f64) -> std::io::Result<()> {
        while let Some(std::cmp::Reverse(b)) = self.heap.peek() {
            let x = f64::from_bits(*b);
            if x >= upto - self.lag {
                break;
            }
            self.heap.pop();
            writeln!(self.w, "{x:.3}")?;
            self.last = x;
            self.max_clock = self.max_clock.max(x);
            self.written += 1;
        }
        Ok(())
    }
}

/// Everything the estimators keep.
pub struct Acc {
    pub ring_timeout: f64,
    pub day0: f64,
    /// First attempts per local minute (minute index since the epoch, local time).
    pub minutes: BTreeMap<i64, u64>,
    pub legs_k: [u64; MAX_LEGS + 1],
    pub flow: [u64; 3],
    pub pos: Vec<PosAcc>,
    pub rangout: LogHist,
    pub pat_ev: LogHist,
    pub pat_cens: LogHist,
    pub talk: LogHist,
    pub setup: LogHist,
    pub answer_wait: LogHist,
    pub outcomes: [u64; 4],
    pub redial: RedialAcc,
    pub trace: Option<TraceOut>,
    pub calls: u64,
    pub first_attempts: u64,
    pub before_day0: u64,
    /// Earliest and latest first-attempt arrival counted in the profile (record time).
    pub arrival_range: (f64, f64),
}

impl Acc {
    pub fn new(ring_timeout: f64, day0: f64, redial_window: f64, trace: Option<TraceOut>) -> Acc {
        Acc {
            ring_timeout,
            day0,
            minutes: BTreeMap::new(),
            legs_k: [0; MAX_LEGS + 1],
            flow: [0; 3],
            pos: vec![PosAcc::default(); MAX_LEGS],
            rangout: LogHist::default(),
            pat_ev: LogHist::default(),
            pat_cens: LogHist::default(),
            talk: LogHist::default(),
            setup: LogHist::default(),
            answer_wait: LogHist::default(),
            outcomes: [0; 4],
            redial: RedialAcc {
                window: redial_window,
                ..Default::default()
            },
            trace,
            calls: 0,
            first_attempts: 0,
            before_day0: 0,
            arrival_range: (f64::INFINITY, f64::NEG_INFINITY),
        }
    }

    pub fn add(&mut self, c: &Call) {
        let o = observe(c, self.ring_timeout);
        self.calls += 1;
        self.outcomes[o.outcome as usize] += 1;
        self.legs_k[c.legs.len().min(MAX_LEGS)] += 1;
        if let Some(f) = o.flow {
            self.flow[f] += 1;
        }
        match o.outcome {
            Outcome::Abandoned => self.pat_ev.add(o.wait),
            Outcome::Connected => {
                self.pat_cens.add(o.wait);
                self.answer_wait.add(o.wait);
            }
            _ => self.pat_cens.add(o.wait),
        }
        if let Some(t) = o.talk {
            self.talk.add(t);
        }
        if let Some(s) = o.setup {
            self.setup.add(s);
        }
        self.add_legs(c);
        if !self.redial.add(c.caller, &o) {
            self.first_attempts += 1;
            let clock = o.arrival - self.day0;
            if clock < 0.0 {
                self.before_day0 += 1;
                return;
            }
            let r = &mut self.arrival_range;
            *r = (r.0.min(o.arrival), r.1.max(o.arrival));
            *self
                .minutes
                .entry((o.arrival / 60.0).floor() as i64)
                .or_default() += 1;
            if let Some(t) = self.trace.as_mut() {
                t.push(clock);
            }
        }
    }

    fn add_legs(&mut self, c: &Call) {
        let mut legs: Vec<&Leg> = c.legs.iter().collect();
        legs.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.line.cmp(&b.line)));
        let t = self.ring_timeout;
        let won = legs
            .iter()
            .filter(|l| resolve(l, t) == Status::Answered)
            .filter_map(|l| l.answer)
            .fold(f64::INFINITY, f64::min);
        for (i, l) in legs.iter().enumerate() {
            let p = &mut self.pos[i.min(MAX_LEGS - 1)];
            let ring = l.end - l.start;
            match resolve(l, t) {
                Status::Answered => p.ev.add(l.answer.map_or(ring, |a| a - l.start)),
                Status::Failed => p.failed += 1,
                Status::Busy => p.cens.add(if t.is_finite() { t.max(ring) } else { ring }),
                Status::RangOut => {
                    p.cens.add(ring);
                    self.rangout.add(ring);
                }
                Status::Cancelled if (l.end - won).abs() < 1e-6 => p.tied.add(ring),
                _ => p.cens.add(ring),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(start: f64, answer: Option<f64>, end: f64, status: Status) -> Leg {
        Leg {
            start,
            answer,
            end,
            status,
            line: 0,
        }
    }

    fn call(parent: Option<(f64, f64)>, legs: Vec<Leg>) -> Call {
        let mut c = Call::default();
        c.parent = parent;
        c.legs = legs;
        c
    }

    #[test]
    fn outcomes_waits_and_flow() {
        // Simulcall, leg 1 answers at 12 s and talks 60 s; leg 0 lost the race.
        let c = call(
            Some((0.0, 72.0)),
            vec![
                leg(2.0, None, 12.0, Status::Cancelled),
                leg(2.0, Some(12.0), 72.0, Status::Answered),
            ],
        );
        let o = observe(&c, 30.0);
        assert_eq!(
            (o.outcome, o.wait, o.talk, o.setup, o.flow),
            (Outcome::Connected, 12.0, Some(60.0), Some(2.0), Some(0))
        );
        // Asterisk-style: unanswered legs told apart by the ring timeout.
        let rang = call(None, vec![leg(0.0, None, 30.0, Status::Unanswered)]);
        assert_eq!(observe(&rang, 30.0).outcome, Outcome::NoAnswer);
        let gave_up = call(None, vec![leg(0.0, None, 29.0, Status::Unanswered)]);
        assert_eq!(observe(&gave_up, 30.0).outcome, Outcome::Abandoned);
        // Sequential: the second leg starts when the first rang out; the caller hangs up during it.
        let seq = call(
            Some((0.0, 40.0)),
            vec![
                leg(0.0, None, 30.0, Status::RangOut),
                leg(30.0, None, 40.0, Status::Cancelled),
            ],
        );
        let o = observe(&seq, 30.0);
        assert_eq!(
            (o.outcome, o.wait, o.flow),
            (Outcome::Abandoned, 40.0, Some(1))
        );
        // No leg: the caller hung up before any leg rang.
        assert_eq!(
            observe(&call(Some((0.0, 5.0)), vec![]), 30.0).outcome,
            Outcome::Abandoned
        );
        let failed = call(None, vec![leg(0.0, None, 0.0, Status::Failed)]);
        assert_eq!(observe(&failed, 30.0).outcome, Outcome::Failed);
    }
}
