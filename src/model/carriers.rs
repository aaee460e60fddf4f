//! Legs and carriers: a leg asks its carrier for a dial slot (dial now, queue or fail), queues
//! drain in FIFO order as tokens fall due and channels free up, a dialled leg rings until it is
//! answered, rings out or is cancelled; and the running queue and channel levels.
//!
//! Part of the model (an `impl Model` block); calls are in `calls`.

use super::calls::{CallState, NOT_YET};
use super::config::*;
use super::slab::{CallId, Gen, LegId};
use super::{for_each_window, Event, LegFailure, Model, Outcome};
use crate::dist::DurationDist;
use crate::limiter::{ChannelPool, Limiter, LimiterSpec};
use crate::rng::{call_rng, CallDraw};
use crate::time::{SimDuration, SimTime};
use rand::Rng;
use std::collections::VecDeque;

use super::slab::Ref;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LegState {
    /// Requested: being placed, or waiting in the carrier's queue.
    Queued,
    Ringing,
    Talking,
    /// Rejected by its carrier, waiting for the platform's retry (`leg_retry`).
    Backoff,
}

pub(super) struct Leg {
    pub(super) call: CallId,
    dest: u32,
    pub(super) carrier: u32,
    pub(super) requested: SimTime,
    counted: bool,
    /// Its call no longer needs it, but the carrier's queue cannot give it back
    /// (`CancelQueued::DialAndHangUp`): dialled when its turn comes and hung up at once.
    pub(super) orphan: bool,
    /// Retries after carrier rejections so far.
    tries: u8,
    pub(super) state: LegState,
}

impl Leg {
    /// The entry of the legs slab's never-live slot 0 (`LegId::NONE`).
    pub(super) fn placeholder() -> Leg {
        Leg {
            call: CallId::NONE,
            dest: 0,
            carrier: 0,
            requested: SimTime::ZERO,
            counted: false,
            orphan: false,
            tries: 0,
            state: LegState::Queued,
        }
    }
}

pub(super) struct CarrierState {
    cfg: CarrierConfig,
    limiter: Limiter,
    pub(super) channels: ChannelPool,
    /// Legs in FIFO order; cancelled and timed-out legs stay until they reach the head.
    pub(super) queue: VecDeque<Ref<LegId>>,
    /// Legs in `queue` still waiting.
    pub(super) queue_live: u64,
    wake_gen: Gen,
    wake_at: Option<SimTime>,
}

impl CarrierState {
    pub(super) fn name(&self) -> &str {
        &self.cfg.name
    }
}

pub(super) fn build_carriers(cfg: &ModelConfig) -> Vec<CarrierState> {
    cfg.carriers
        .iter()
        .map(|c| CarrierState {
            cfg: c.clone(),
            limiter: Limiter::new(&c.limiter, cfg.start),
            channels: ChannelPool::new(c.channels),
            queue: VecDeque::new(),
            queue_live: 0,
            wake_gen: Gen::FIRST,
            wake_at: None,
        })
        .collect()
}

impl CarrierState {
    /// Whether a queued leg its call no longer needs stays in this carrier's queue.
    #[inline]
    fn cannot_withdraw(&self) -> bool {
        self.cfg.dials_cancelled_legs()
    }

    /// A waiting leg left the queue (dialled, timed out or cancelled).
    #[inline]
    fn leave_queue(&mut self) {
        self.queue_live = self
            .queue_live
            .checked_sub(1)
            .expect("a carrier queue lost more legs than it held");
    }

    /// Puts a new configuration in force: a raised limit may admit the head now, and an old
    /// wake may be too late, so the pending wake is dropped (the caller drains).
    pub(super) fn reconfigure(&mut self, cfg: &CarrierConfig, now: SimTime) {
        self.limiter.reconfigure(&cfg.limiter, now);
        self.channels.set_limit(cfg.channels);
        self.cfg = cfg.clone();
        self.wake_at = None;
        self.wake_gen.bump();
    }
}

impl Model<'_> {
    /// Places the call's next leg with its carrier: dial now, queue, or fail.
    pub(super) fn request_leg(&mut self, now: SimTime, call: CallId) {
        let c = self.calls.get(call);
        let dest = u32::from(c.legs_started);
        let b = &self.sources[c.source as usize].behaviour;
        let carrier = b.carrier as u32;
        let cc = &self.carriers[carrier as usize].cfg;
        // A leg needs a dial token only if the carrier has a rate limit and counts it.
        let counted = cc.limiter != LimiterSpec::Unlimited
            && if c.backup {
                cc.count_backup_legs
            } else {
                dest == 0 || cc.count_each_leg
            };
        let r = self.legs.insert(Leg {
            call,
            dest,
            carrier,
            requested: now,
            counted,
            orphan: false,
            tries: 0,
            state: LegState::Queued,
        });
        self.set_leg(call, dest as u8, r.id);
        let c = self.calls.get_mut(call);
        c.legs_started += 1;
        c.live += 1;
        self.tally(now, call, |c| c.legs_requested += 1);

        self.place_leg(now, r);
    }

    /// Asks the carrier for a dial slot for a requested (or retried) leg: dial now, queue, or
    /// reject (then retry after a backoff, or fail).
    fn place_leg(&mut self, now: SimTime, r: Ref<LegId>) {
        let l = self.legs.get(r.id);
        let (call, carrier, counted) = (l.call, l.carrier, l.counted);
        let cs = &mut self.carriers[carrier as usize];
        if cs.queue_live == 0
            && cs.channels.available()
            && (!counted || cs.limiter.next_admit(now) == now)
        {
            if counted {
                cs.limiter.admit(now);
            }
            self.dial(now, r.id);
            return;
        }
        match cs.cfg.over_limit {
            OverLimit::Reject { code } => {
                if self.retry_later(now, r) {
                    self.tally(now, call, |c| c.legs_rejected += 1);
                    return;
                }
                self.tally(now, call, |c| {
                    c.legs_rejected += 1;
                    c.legs_gave_up += 1;
                });
                self.end_leg(now, r.id, Some(LegFailure::Rejected(code)));
            }
            OverLimit::Queue {
                capacity, max_wait, ..
            } => {
                if capacity.is_some_and(|cap| cs.queue_live >= cap) {
                    self.tally(now, call, |c| c.legs_queue_full += 1);
                    self.end_leg(now, r.id, Some(LegFailure::QueueFull));
                    return;
                }
                cs.queue.push_back(r);
                cs.queue_live += 1;
                self.tally(now, call, |c| c.legs_queued += 1);
                self.queue_delta(now, true);
                if let Some(w) = max_wait {
                    self.timer(now, w, Event::LegQueueTimeout { leg: r });
                }
                self.drain(now, carrier);
            }
        }
    }

    /// A rejected leg with retries left under its carrier's `leg_retry` waits for its next
    /// attempt (true); otherwise false.
    fn retry_later(&mut self, now: SimTime, r: Ref<LegId>) -> bool {
        let l = self.legs.get(r.id);
        let Some(policy) = &self.carriers[l.carrier as usize].cfg.leg_retry else {
            return false;
        };
        if u32::from(l.tries) >= policy.retries {
            return false;
        }
        let (tries, dest) = (l.tries + 1, u64::from(l.dest));
        let seed = self.calls.get(l.call).seed;
        let key = dest << 16 | u64::from(tries);
        let wait = policy.wait(
            u32::from(tries),
            &mut call_rng(seed, CallDraw::LegBackoff, key),
        );
        let fixed = policy.fixed();
        let l = self.legs.get_mut(r.id);
        l.tries = tries;
        l.state = LegState::Backoff;
        if fixed {
            // The same wait for every leg's k-th retry: a fixed-delay timer queue.
            self.timer(now, wait, Event::LegRetry { leg: r });
        } else {
            self.sched
                .schedule(now.plus(wait), Event::LegRetry { leg: r });
        }
        true
    }

    /// A rejected leg's backoff ended: the platform asks the carrier again.
    pub(super) fn retry_leg(&mut self, now: SimTime, leg: LegId) {
        let l = self.legs.get_mut(leg);
        l.state = LegState::Queued;
        let call = l.call;
        self.tally(now, call, |c| c.legs_retried += 1);
        let r = self.legs.ref_of(leg);
        self.place_leg(now, r);
    }

    /// Dials queued legs of `carrier` in FIFO order while a channel and (for counted legs) a
    /// dial token are available; otherwise arranges to be woken when the next token is due.
    #[inline]
    pub(super) fn drain(&mut self, now: SimTime, carrier: u32) {
        // Most calls find the queue empty: checked here, where the call inlines, before the
        // loop's frame is set up.
        if self.carriers[carrier as usize].queue.is_empty() {
            return;
        }
        self.drain_queue(now, carrier);
    }

    fn drain_queue(&mut self, now: SimTime, carrier: u32) {
        loop {
            let cs = &mut self.carriers[carrier as usize];
            let Some(&head) = cs.queue.front() else {
                return;
            };
            let (counted, orphan) = match self.legs.get_live(head) {
                Some(l) if l.state == LegState::Queued => (l.counted, l.orphan),
                _ => {
                    cs.queue.pop_front(); // cancelled or timed out: dropped lazily
                    continue;
                }
            };
            if !cs.channels.available() {
                return; // a channel release calls drain again
            }
            if counted {
                let t = cs.limiter.next_admit(now);
                if t > now {
                    if t != SimTime::MAX && cs.wake_at.is_none_or(|w| w > t) {
                        cs.wake_gen.bump();
                        cs.wake_at = Some(t);
                        let gen = cs.wake_gen;
                        self.sched.schedule(t, Event::CarrierWake { carrier, gen });
                    }
                    return;
                }
                cs.limiter.admit(now);
            }
            cs.queue.pop_front();
            cs.leave_queue();
            self.queue_delta(now, false);
            if orphan {
                self.dial_and_hang_up(now, head.id);
            } else {
                self.dial(now, head.id);
            }
        }
    }

    /// The carrier dials a leg whose call no longer needs it (it could not be withdrawn); the
    /// platform hangs it up the same instant: a dial slot spent, no channel held, no answer.
    fn dial_and_hang_up(&mut self, now: SimTime, leg: LegId) {
        let call = self.legs.get(leg).call;
        self.tally(now, call, |c| {
            c.legs_dialed += 1;
            c.legs_dialed_wasted += 1;
        });
        self.legs.remove(leg);
        self.leg_gone(call);
        self.free_if_done(call);
    }

    /// The carrier's pending wake fired: drain its queue. False if stale (replaced by an
    /// earlier wake or a reconfiguration).
    pub(super) fn carrier_wake(&mut self, now: SimTime, carrier: u32, gen: Gen) -> bool {
        let c = &mut self.carriers[carrier as usize];
        if c.wake_gen != gen {
            return false;
        }
        c.wake_at = None;
        self.drain(now, carrier);
        true
    }

    fn dial(&mut self, now: SimTime, leg: LegId) {
        let l = self.legs.get_mut(leg);
        l.state = LegState::Ringing;
        let (call, dest, carrier, requested) = (l.call, l.dest, l.carrier, l.requested);
        let cs = &mut self.carriers[carrier as usize];
        cs.channels.acquire();
        self.channel_delta(now, true);
        let delay = now.since(requested);
        let (measured, windows) = {
            let c = self.calls.get(call);
            (c.measured, c.windows)
        };
        self.tally(now, call, |c| c.legs_dialed += 1);
        if measured {
            self.obs.dial_delay.record(delay);
        }
        for_each_window(&mut self.obs.windows, windows, |w| {
            w.dial_delay.record(delay)
        });
        self.obs.timeline.record_dial(delay);
        self.note_dial_for_auto(now, delay, call);
        let c = self.calls.get_mut(call);
        if c.first_ring == NOT_YET {
            c.first_ring = now;
            let pdd = now.since(c.arrival);
            if c.measured {
                self.obs.pdd.record(pdd);
            }
            for_each_window(&mut self.obs.windows, c.windows, |w| w.pdd.record(pdd));
            if self.obs.timeline.on {
                self.obs.timeline.at(now, self.backup_on);
                self.obs.timeline.record_pdd(pdd);
            }
        }
        let (seed, source) = (c.seed, c.source);
        let flow = &self.sources[source as usize].behaviour.flow;
        let d = &flow.destinations[(dest as usize).min(flow.destinations.len() - 1)];
        let (answers, tta) = match d.time_to_answer {
            // A uniform draw lies in [0, 1): with probability 1 it always answers, and a fixed
            // time to answer draws nothing, so the stream is not even seeded (same outcome).
            DurationDist::Fixed(tta) if d.answer_probability >= 1.0 => (true, tta),
            _ => {
                let mut rng = call_rng(seed, CallDraw::Destination, dest as u64);
                let answers = rng.random::<f64>() < d.answer_probability;
                (answers, d.time_to_answer.sample(&mut rng))
            }
        };
        let r = self.legs.ref_of(leg);
        if answers && tta == SimDuration::ZERO {
            // Answered the instant it rings: handled when the current event is done (as an
            // event at `now` would be, e.g. after all legs of a simulcall are placed), without
            // a trip through the event queue.
            self.instant_answers.push(r);
        } else if answers && tta < d.ring_timeout {
            self.sched
                .schedule(now.plus(tta), Event::LegAnswer { leg: r });
        } else {
            self.timer(now, d.ring_timeout, Event::LegRingTimeout { leg: r });
        }
    }

    /// A ringing leg rang out unanswered.
    pub(super) fn ring_timeout(&mut self, now: SimTime, leg: LegId) {
        let l = self.legs.get(leg);
        let (carrier, call) = (l.carrier, l.call);
        self.release_channel(now, carrier);
        self.calls.get_mut(call).any_rang = true;
        self.end_leg(now, leg, None);
        self.drain(now, carrier);
    }

    /// A queued leg waited as long as its carrier allows.
    pub(super) fn queue_timeout(&mut self, now: SimTime, leg: LegId) {
        let l = self.legs.get(leg);
        let (carrier, call) = (l.carrier, l.call);
        self.carriers[carrier as usize].leave_queue();
        self.queue_delta(now, false);
        self.tally(now, call, |c| c.legs_queue_timeout += 1);
        self.end_leg(now, leg, Some(LegFailure::QueueTimeout));
        self.drain(now, carrier);
    }

    /// Cancels every live leg of `call` except `keep`: queued legs leave the queue (lazily),
    /// ringing legs are hung up and free their channel.
    pub(super) fn cancel_legs(&mut self, now: SimTime, call: CallId, keep: Option<LegId>) {
        // `live` counts the call's legs in the slab: when `keep` is the only one (a one-leg
        // call answered), or there is none, the scan below would find nothing to cancel.
        debug_assert!(
            keep.is_none_or(|k| self.legs.is_live(k) && self.legs.get(k).call == call),
            "the leg kept is one of the call's live legs"
        );
        if self.calls.get(call).live == u8::from(keep.is_some()) {
            return;
        }
        let (legs, n) = self.legs_of(call);
        let mut carriers_to_drain: [u32; MAX_LEGS] = [u32::MAX; MAX_LEGS];
        let mut nd = 0;
        let mut orphaned = false;
        for &leg in &legs[..n] {
            if Some(leg) == keep
                || leg == LegId::NONE
                || !self.legs.is_live(leg)
                || self.legs.get(leg).call != call
            {
                continue;
            }
            let l = self.legs.get(leg);
            let carrier = l.carrier;
            match l.state {
                LegState::Queued if l.orphan => continue,
                LegState::Queued if self.carriers[carrier as usize].cannot_withdraw() => {
                    self.legs.get_mut(leg).orphan = true;
                    orphaned = true;
                    continue; // stays queued (and live) until the carrier dials it
                }
                LegState::Queued => {
                    self.carriers[carrier as usize].leave_queue();
                    self.queue_delta(now, false);
                    self.tally(now, call, |c| c.legs_cancelled_queued += 1);
                }
                LegState::Ringing => {
                    self.release_channel(now, carrier);
                    self.tally(now, call, |c| c.legs_cancelled_ringing += 1);
                    if !carriers_to_drain[..nd].contains(&carrier) {
                        carriers_to_drain[nd] = carrier;
                        nd += 1;
                    }
                }
                LegState::Backoff => {
                    self.tally(now, call, |c| c.legs_cancelled_backoff += 1);
                }
                LegState::Talking => unreachable!("a talking leg is never cancelled"),
            }
            self.legs.remove(leg);
            self.leg_gone(call);
        }
        // The drains below may dial (and hang up) this call's own orphans: pin the call so
        // that it is not freed before its caller has concluded it.
        if orphaned {
            self.calls.get_mut(call).live += 1;
        }
        for &carrier in &carriers_to_drain[..nd] {
            self.drain(now, carrier);
        }
        if orphaned {
            self.leg_gone(call);
        }
    }

    /// A leg ended without an answer (rang out, or failed at the carrier). The call moves to its
    /// next leg (sequential), or fails or goes unanswered when no leg is left.
    fn end_leg(&mut self, now: SimTime, leg: LegId, failure: Option<LegFailure>) {
        let call = self.legs.get(leg).call;
        self.legs.remove(leg);
        self.leg_gone(call);
        let c = self.calls.get_mut(call);
        if c.state != CallState::Waiting {
            // An orphan (`dial_and_hang_up`) timed out in the queue of an ended call.
            self.free_if_done(call);
            return;
        }
        if failure.is_some() {
            c.last_failure = failure;
        }
        if c.legs_started < c.legs_total && c.sequential {
            self.request_leg(now, call);
            return;
        }
        if c.live == 0 && c.legs_started >= c.legs_total {
            c.state = CallState::Done;
            let outcome = if c.any_rang {
                Outcome::NoAnswer
            } else {
                Outcome::Failed
            };
            self.conclude(now, call, outcome);
        }
    }

    /// Tracks the legs waiting in all queues for the timeline. (`channel_delta` below has the same
    /// shape; merged into one function taking the level as an argument they cost 2.7% more
    /// instructions on the Erlang-A benchmark, so they stay two.)
    #[inline]
    fn queue_delta(&mut self, now: SimTime, up: bool) {
        if up {
            self.queued_total += 1;
        } else {
            self.queued_total = self
                .queued_total
                .checked_sub(1)
                .expect("the queue level went below zero");
        }
        if !self.obs.timeline.on {
            return;
        }
        self.obs.timeline.at(now, self.backup_on);
        self.obs.timeline.set_queue_len(self.queued_total);
    }

    /// Tracks channels in use on all carriers for the timeline.
    #[inline]
    fn channel_delta(&mut self, now: SimTime, up: bool) {
        if up {
            self.channels_total += 1;
        } else {
            self.channels_total = self
                .channels_total
                .checked_sub(1)
                .expect("the channel level went below zero");
        }
        if !self.obs.timeline.on {
            return;
        }
        self.obs.timeline.at(now, self.backup_on);
        self.obs.timeline.set_channels(self.channels_total);
    }

    #[inline]
    pub(super) fn release_channel(&mut self, now: SimTime, carrier: u32) {
        self.carriers[carrier as usize].channels.release();
        self.channel_delta(now, false);
    }
}
