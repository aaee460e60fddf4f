//! Calls from arrival to outcome: sources and redials, a call's patience, setup delay and
//! fan-out, the answer, talk and hang-up, abandonment, the concluding outcome with its redial,
//! the per-call record, and the counting every handler shares (`tally`).
//!
//! Part of the model (an `impl Model` block); legs and carriers are in `carriers`.

use super::config::*;
use super::obs::Counts;
use super::slab::{CallId, Gen, LegId};
use super::{
    for_each_window, platform, ArrivalStream, CallRecord, Event, LegFailure, LegState, Model,
    Outcome,
};
use crate::rng::{call_rng, child, component_seed, CallDraw};
use crate::time::{SimDuration, SimTime};
use rand::Rng;

/// Sources whose arrivals use scheduler lanes; beyond this many the lane scan would cost more
/// than the heap saves, and arrivals go through the heap.
const MAX_ARRIVAL_LANES: usize = 16;

/// `Call::more` of a call with one leg so far.
pub(super) const NO_MORE: u32 = u32::MAX;
/// `Call::first_ring` of a call none of whose legs has rung.
pub(super) const NOT_YET: SimTime = SimTime(u64::MAX);

pub(super) struct SourceState {
    pub(super) behaviour: SourceBehaviour,
    /// Generation of the pending arrival (a rate change redraws it).
    pub(super) arrival_gen: Gen,
    pub(super) arrivals: ArrivalStream,
    /// New calls from this source are backup-routed (the platform's or its own policy is on).
    pub(super) backup: bool,
    seed: u64,
    next_index: u64,
}

pub(super) fn build_sources(
    cfg: &ModelConfig,
    master_seed: u64,
    replication: u64,
    arrivals: Vec<ArrivalStream>,
) -> Vec<SourceState> {
    cfg.sources
        .iter()
        .zip(arrivals)
        .map(|(s, a)| SourceState {
            behaviour: s.behaviour.clone(),
            arrival_gen: Gen::FIRST,
            arrivals: a,
            backup: false,
            seed: component_seed(
                master_seed,
                replication,
                &format!("source:{}:calls", s.name),
            ),
            next_index: 0,
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CallState {
    /// Before an answer: in setup, waiting for dial slots, or ringing.
    Waiting,
    Connected,
    Done,
}

pub(super) struct Call {
    pub(super) source: u32,
    pub(super) call_index: u64,
    pub(super) attempt: u32,
    pub(super) seed: u64,
    pub(super) arrival: SimTime,
    pub(super) state: CallState,
    pub(super) backup: bool,
    pub(super) sequential: bool,
    /// Legs wanted and started (at most MAX_LEGS), and still in the legs slab.
    pub(super) legs_total: u8,
    pub(super) legs_started: u8,
    pub(super) live: u8,
    /// The first leg; the legs after it (fan-out) are in `Model::more_legs[more]`, taken only
    /// by calls that start a second leg, so a one-leg call carries 8 bytes of legs, not 40.
    pub(super) leg0: LegId,
    pub(super) more: u32,
    /// When the first leg rang (`NOT_YET` before).
    pub(super) first_ring: SimTime,
    pub(super) answered_at: SimTime,
    /// Arrived after the warm-up: counted in the summary statistics.
    pub(super) measured: bool,
    /// Bit i set: arrived in named window i (counted in its metrics, warm-up or not).
    pub(super) windows: u32,
    /// Platform progress: the account, the stage reached, client retries so far, the current
    /// attempt's generation (stale job results and timeouts are dropped), whether the call is
    /// still in the platform and whether it waits in a stage's queue.
    pub(super) account: u32,
    pub(super) stage_pos: u16,
    pub(super) tries: u16,
    pub(super) try_gen: Gen,
    pub(super) in_platform: bool,
    pub(super) stage_queued: bool,
    pub(super) any_rang: bool,
    pub(super) last_failure: Option<LegFailure>,
}

impl Call {
    /// The entry of the calls slab's never-live slot 0 (`CallId::NONE`), and the state of a new
    /// call in every field `new_call` does not set.
    #[inline]
    pub(super) fn placeholder() -> Call {
        Call {
            source: 0,
            call_index: 0,
            attempt: 0,
            seed: 0,
            arrival: SimTime::ZERO,
            state: CallState::Done,
            backup: false,
            sequential: false,
            legs_total: 0,
            legs_started: 0,
            live: 0,
            leg0: LegId::NONE,
            more: NO_MORE,
            first_ring: NOT_YET,
            answered_at: SimTime::ZERO,
            measured: false,
            windows: 0,
            account: 0,
            stage_pos: 0,
            tries: 0,
            try_gen: Gen::FIRST,
            in_platform: false,
            stage_queued: false,
            any_rang: false,
            last_failure: None,
        }
    }
}

#[derive(Clone, Copy)]
pub(super) struct PendingRedial {
    source: u32,
    call_index: u64,
    attempt: u32,
    seed: u64,
}

impl Model<'_> {
    pub(super) fn schedule_next_arrival(&mut self, source: u32) {
        if let Some(max) = self.cfg.max_calls {
            if self.first_attempts >= max {
                return;
            }
        }
        let now = self.sched.now();
        while let Some(t) = self.sources[source as usize].arrivals.next() {
            if t < self.cfg.start || t < now {
                continue; // trace rows before the start (or out of order) are skipped
            }
            if t >= self.cfg.end {
                return;
            }
            let gen = self.sources[source as usize].arrival_gen;
            if self.sources.len() <= MAX_ARRIVAL_LANES && gen == Gen::FIRST {
                // One pending arrival per source: a lane beside the heap (same ordering).
                self.sched
                    .schedule_lane(source as usize, t, Event::Arrival { source, gen });
            } else {
                self.sched.schedule(t, Event::Arrival { source, gen });
            }
            return;
        }
    }

    /// A first attempt arrives (unless the call limit is reached). False if stale: the source's
    /// arrivals were redrawn since.
    pub(super) fn arrival(&mut self, now: SimTime, source: u32, gen: Gen) -> bool {
        if gen != self.sources[source as usize].arrival_gen {
            return false;
        }
        let reached = self.cfg.max_calls.is_some_and(|m| self.first_attempts >= m);
        if !reached {
            self.first_attempts += 1;
            let s = &mut self.sources[source as usize];
            let index = s.next_index;
            s.next_index += 1;
            let seed = child(s.seed, index);
            self.new_call(now, source, index, 1, seed);
            self.schedule_next_arrival(source);
        }
        true
    }

    pub(super) fn redial(&mut self, now: SimTime, slot: u32) {
        let r = self.redials[slot as usize];
        self.free_redials.push(slot);
        self.new_call(now, r.source, r.call_index, r.attempt, r.seed);
    }

    fn new_call(&mut self, now: SimTime, source: u32, call_index: u64, attempt: u32, seed: u64) {
        let s = &self.sources[source as usize];
        let b = &s.behaviour;
        let is_call = b.client.kind == SourceKind::Call;
        // Backup routing is the carrier's path for calls: it skips the platform entirely.
        let backup = s.backup && is_call;
        let measured = now >= self.cfg.start.plus(self.cfg.warmup);
        let windows = self.window_mask(now);
        let has_patience = b.patience.is_some();
        let sequential = b.flow.mode == FlowMode::Sequential;
        let accounts = b.client.accounts;
        let account = if accounts > 1 {
            call_rng(seed, CallDraw::Account, 0).random_range(0..accounts)
        } else {
            0
        };
        let use_platform = !backup && !b.client.stages.is_empty();
        let r = self.calls.insert(Call {
            source,
            call_index,
            attempt,
            seed,
            arrival: now,
            state: CallState::Waiting,
            backup,
            sequential: sequential && !backup,
            measured,
            windows,
            account,
            // No legs, no ring or answer yet, not in the platform: as the placeholder.
            ..Call::placeholder()
        });
        self.obs.calls_in_flight_max = self.obs.calls_in_flight_max.max(self.calls.in_use());
        self.tally(now, r.id, |c| {
            c.offered += 1;
            if attempt > 1 {
                c.redials += 1;
            } else {
                c.first_attempts += 1;
            }
            if backup {
                c.backup_routed += 1;
            }
        });
        if use_platform {
            self.begin_platform(now, r);
        } else {
            self.begin_dialling(now, r.id);
        }
        // The patience event is needed only if the call is still unanswered once this instant's
        // work is done: many calls are answered the moment they arrive and never need one.
        // Patience is drawn (from its own stream, so lazily without changing any draw) only for
        // those calls.
        if has_patience {
            self.patience_checks.push(r);
        }
    }

    /// After the platform (or at once): the tracking hop's setup delay, then the legs.
    #[inline]
    pub(super) fn begin_dialling(&mut self, now: SimTime, call: CallId) {
        let c = self.calls.get(call);
        let setup = if c.backup {
            SimDuration::ZERO
        } else {
            self.sources[c.source as usize]
                .behaviour
                .setup_delay
                .sample_lazy(|| call_rng(c.seed, CallDraw::Setup, 0))
        };
        if setup == SimDuration::ZERO {
            self.start_legs(now, call);
        } else {
            let r = self.calls.ref_of(call);
            self.sched
                .schedule(now.plus(setup), Event::SetupDone { call: r });
        }
    }

    pub(super) fn start_legs(&mut self, now: SimTime, call: CallId) {
        let c = self.calls.get(call);
        let k = if c.backup {
            1
        } else {
            let b = &self.sources[c.source as usize].behaviour;
            b.flow
                .legs
                .sample_lazy(|| call_rng(c.seed, CallDraw::FanOut, 0))
                .clamp(1, MAX_LEGS as u32)
        };
        let sequential = c.sequential;
        self.calls.get_mut(call).legs_total = k as u8;
        let first_batch = if sequential { 1 } else { k };
        for _ in 0..first_batch {
            if self.calls.get(call).state != CallState::Waiting {
                break; // e.g. every leg so far was rejected and the call already failed
            }
            self.request_leg(now, call);
        }
    }

    pub(super) fn answer(&mut self, now: SimTime, leg: LegId) {
        let call = self.legs.get(leg).call;
        debug_assert_eq!(self.calls.get(call).state, CallState::Waiting);
        self.legs.get_mut(leg).state = LegState::Talking;
        let cm = self.calls.get_mut(call);
        cm.state = CallState::Connected;
        cm.answered_at = now;
        self.cancel_legs(now, call, Some(leg));
        let c = self.calls.get(call);
        let (backup, arrival, seed, source, measured, windows) =
            (c.backup, c.arrival, c.seed, c.source, c.measured, c.windows);
        self.tally(now, call, |c| {
            c.connected += 1;
            if backup {
                c.backup_connected += 1;
            }
        });
        if measured {
            self.obs.answer_wait.record(now.since(arrival));
        }
        for_each_window(&mut self.obs.windows, windows, |w| {
            w.answer_wait.record(now.since(arrival))
        });
        if self.obs.timeline.alerts.is_some() {
            let _ = self.obs.timeline.at(now, self.backup_on);
            self.obs.timeline.record_answer_wait(now.since(arrival));
        }
        let talk = self.sources[source as usize]
            .behaviour
            .talk_time
            .sample_lazy(|| call_rng(seed, CallDraw::Talk, 0));
        let r = self.legs.ref_of(leg);
        self.sched
            .schedule(now.plus(talk), Event::TalkEnd { leg: r });
    }

    pub(super) fn talk_end(&mut self, now: SimTime, leg: LegId) {
        let l = self.legs.get(leg);
        let (call, carrier) = (l.call, l.carrier);
        self.release_channel(now, carrier);
        self.legs.remove(leg);
        self.leg_gone(call);
        self.calls.get_mut(call).state = CallState::Done;
        self.emit(now, call, Outcome::Connected);
        self.free_if_done(call);
        self.drain(now, carrier);
    }

    pub(super) fn abandon(&mut self, now: SimTime, call: CallId) {
        let ringing = self.calls.get(call).first_ring != NOT_YET;
        self.calls.get_mut(call).state = CallState::Done;
        self.cancel_legs(now, call, None);
        let outcome = if ringing {
            Outcome::AbandonedRinging
        } else {
            Outcome::AbandonedWaiting
        };
        let c = self.calls.get(call);
        if c.measured {
            self.obs.abandon_wait.record(now.since(c.arrival));
        }
        let (windows, waited) = (c.windows, now.since(c.arrival));
        for_each_window(&mut self.obs.windows, windows, |w| {
            w.abandon_wait.record(waited)
        });
        if self.obs.timeline.alerts.is_some() {
            let _ = self.obs.timeline.at(now, self.backup_on);
            self.obs.timeline.record_abandon_wait(waited);
        }
        self.conclude(now, call, outcome);
    }

    /// Records a call's final non-connected outcome, schedules a redial if the caller tries
    /// again, and frees the call (once its last leg is gone).
    pub(super) fn conclude(&mut self, now: SimTime, call: CallId, outcome: Outcome) {
        let why = match self.calls.get(call).last_failure {
            Some(LegFailure::Stage { why, .. }) => Some(why),
            _ => None,
        };
        self.tally(now, call, |c| match outcome {
            Outcome::AbandonedWaiting => c.abandoned_waiting += 1,
            Outcome::AbandonedRinging => c.abandoned_ringing += 1,
            Outcome::NoAnswer => c.no_answer += 1,
            Outcome::Failed => {
                c.failed += 1;
                match why {
                    Some(platform::StageFail::Refused) | None => c.failed_refused += 1,
                    Some(platform::StageFail::Error) => c.failed_error += 1,
                    Some(platform::StageFail::Blocked) => c.failed_blocked += 1,
                    Some(platform::StageFail::Timeout) => c.failed_timeout += 1,
                }
            }
            Outcome::Connected | Outcome::Served | Outcome::Unfinished => {
                unreachable!("not a concluding outcome")
            }
        });
        self.maybe_redial(now, call, outcome);
        self.emit(now, call, outcome);
        self.free_if_done(call);
    }

    /// Frees an ended call once its last leg is gone (a leg of a `dial_and_hang_up` carrier may
    /// outlive its call in the queue).
    #[inline]
    pub(super) fn free_if_done(&mut self, call: CallId) {
        let c = self.calls.get(call);
        if c.state == CallState::Done && c.live == 0 {
            self.free_call(call);
        }
    }

    /// A share of callers whose call ended `outcome` call again after a delay (if the run is
    /// still on then).
    fn maybe_redial(&mut self, now: SimTime, call: CallId, outcome: Outcome) {
        let cl = self.calls.get(call);
        let (source, call_index, attempt, seed) = (cl.source, cl.call_index, cl.attempt, cl.seed);
        let Some(rd) = &self.sources[source as usize].behaviour.redial else {
            return;
        };
        let eligible = match outcome {
            Outcome::AbandonedWaiting | Outcome::AbandonedRinging => rd.after_abandon,
            Outcome::Failed => rd.after_failure,
            Outcome::NoAnswer => rd.after_no_answer,
            _ => false,
        };
        if !eligible || attempt >= rd.max_attempts {
            return;
        }
        let mut rng = call_rng(seed, CallDraw::Redial, 0);
        if rng.random::<f64>() < rd.probability {
            let delay = rd.delay.sample(&mut rng);
            let at = now.plus(delay);
            if at < self.cfg.end.plus(self.cfg.drain) {
                let seed = child(seed, 0x5ED1A1 + attempt as u64);
                let slot = self.park_redial(PendingRedial {
                    source,
                    call_index,
                    attempt: attempt + 1,
                    seed,
                });
                self.sched.schedule(at, Event::Redial { slot });
            }
        }
    }

    /// Writes a call's row to the per-call sink, if one is attached.
    pub(super) fn emit(&mut self, now: SimTime, call: CallId, outcome: Outcome) {
        if self.sink.is_none() {
            return;
        }
        let c = self.calls.get(call);
        let (wait, talk) = match outcome {
            // Finished talking, or (at the drain limit) still talking: talk time unknown.
            Outcome::Connected if c.state == CallState::Done => (
                c.answered_at.since(c.arrival),
                Some(now.since(c.answered_at)),
            ),
            Outcome::Connected => (c.answered_at.since(c.arrival), None),
            _ => (now.since(c.arrival), None),
        };
        let rec = CallRecord {
            source: c.source as usize,
            call_index: c.call_index,
            attempt: c.attempt,
            arrival: c.arrival,
            backup: c.backup,
            legs: u32::from(c.legs_started),
            outcome,
            pdd: (c.first_ring != NOT_YET).then(|| c.first_ring.since(c.arrival)),
            wait,
            talk,
            // The code the caller would have heard: only for calls that failed at the carrier.
            failure_code: match (outcome, c.last_failure) {
                (Outcome::Failed, Some(LegFailure::Rejected(code))) => Some(code),
                (Outcome::Failed, Some(LegFailure::QueueFull | LegFailure::QueueTimeout)) => {
                    Some(503)
                }
                (Outcome::Failed, Some(LegFailure::Stage { code, .. })) => Some(code),
                _ => None,
            },
        };
        if let Some(sink) = self.sink.as_deref_mut() {
            sink.record(&rec);
        }
    }

    fn park_redial(&mut self, r: PendingRedial) -> u32 {
        match self.free_redials.pop() {
            Some(slot) => {
                self.redials[slot as usize] = r;
                slot
            }
            None => {
                self.redials.push(r);
                (self.redials.len() - 1) as u32
            }
        }
    }

    /// Counts an event of `call` in the timeline and its source's timeline (when kept), and in
    /// the summary and its source's totals (calls after the warm-up).
    #[inline]
    pub(super) fn tally(&mut self, now: SimTime, call: CallId, f: impl Fn(&mut Counts)) {
        let c = self.calls.get(call);
        let (measured, source, windows) = (c.measured, c.source as usize, c.windows);
        for_each_window(&mut self.obs.windows, windows, |w| f(&mut w.counts));
        if self.obs.timeline.on {
            f(self.obs.timeline.at(now, self.backup_on));
            if self.per_source_detail && self.obs.timeline.keep {
                let idx = self.obs.timeline.index_of(now);
                f(self.obs.per_source[source].row(idx));
            }
        }
        if measured {
            f(&mut self.obs.counts);
            if self.per_source_detail {
                f(&mut self.obs.per_source[source].total);
            }
        }
    }

    /// Bit i set when `now` lies in named window i.
    #[inline]
    fn window_mask(&self, now: SimTime) -> u32 {
        let mut mask = 0u32;
        for (i, w) in self.cfg.windows.iter().enumerate() {
            if w.contains(now) {
                mask |= 1 << i;
            }
        }
        mask
    }

    /// One of `call`'s legs left the legs slab.
    #[inline]
    pub(super) fn leg_gone(&mut self, call: CallId) {
        let c = self.calls.get_mut(call);
        c.live = c
            .live
            .checked_sub(1)
            .expect("a call lost more legs than it had");
    }

    pub(super) fn free_call(&mut self, call: CallId) {
        let c = self.calls.get(call);
        assert_eq!(c.live, 0, "a call freed with live legs");
        if c.more != NO_MORE {
            self.free_more.push(c.more);
        }
        self.calls.remove(call);
    }

    /// Records `leg` as the call's leg number `dest` (the first inline, the others in a
    /// `more_legs` row taken at the second leg).
    pub(super) fn set_leg(&mut self, call: CallId, dest: u8, leg: LegId) {
        if dest == 0 {
            self.calls.get_mut(call).leg0 = leg;
            return;
        }
        let mut more = self.calls.get(call).more;
        if more == NO_MORE {
            more = match self.free_more.pop() {
                Some(m) => m,
                None => {
                    self.more_legs.push([LegId::NONE; MAX_LEGS - 1]);
                    u32::try_from(self.more_legs.len() - 1).expect("fewer than 2^32 rows")
                }
            };
            self.more_legs[more as usize] = [LegId::NONE; MAX_LEGS - 1];
            self.calls.get_mut(call).more = more;
        }
        self.more_legs[more as usize][dest as usize - 1] = leg;
    }

    /// The call's legs started so far, in the order they were started.
    pub(super) fn legs_of(&self, call: CallId) -> ([LegId; MAX_LEGS], usize) {
        let c = self.calls.get(call);
        let mut legs = [LegId::NONE; MAX_LEGS];
        legs[0] = c.leg0;
        let n = c.legs_started as usize;
        if n > 1 {
            legs[1..n].copy_from_slice(&self.more_legs[c.more as usize][..n - 1]);
        }
        (legs, n)
    }
}
