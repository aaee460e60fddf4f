//! The telephony model: callers, calls, legs, carriers with dial-rate and channel limits, backup
//! routing and scheduled changes, as one closed `Event` enum handled by one owner of the state.
//!
//! This file holds the state (`Model`), the events and the run loop; the handlers live beside
//! their concern: `calls` (arrivals to outcomes), `carriers` (legs, queues, channels), `backup`
//! (manual and automatic routing), `changes` (scheduled changes), `platform` (stages and jobs).
//! Calls, legs and jobs live in `slab::Slab`s, whose `get_live` is the one place a stale event
//! is recognised.
//!
//! Depends on engine, limiter, dist, rng and time. Does no I/O and reads no clock: arrivals from
//! a trace come in as an iterator, per-call records go out through the `CallSink` trait.

mod backup;
mod calls;
mod carriers;
mod changes;
pub mod config;
pub mod limits;
pub mod obs;
pub mod platform;
mod slab;

use crate::dist::NhppArrivals;
use crate::engine::{Reserved, Scheduler};
use crate::rng::{call_rng, component_seed, rng_from, CallDraw};
use crate::time::{SimDuration, SimTime};
use backup::BackupState;
use calls::{Call, CallState, PendingRedial, SourceState};
use carriers::{CarrierState, Leg, LegState};
use config::*;
pub use limits::Limits;
use obs::*;
use slab::{CallId, Gen, JobId, LegId, Ref, Slab};

const _: () = assert!(
    std::mem::size_of::<Event>() <= 16,
    "events stay small: the heap moves them"
);

/// Where arrivals of one source come from.
pub enum ArrivalStream {
    Nhpp(NhppArrivals),
    /// Arrival instants in non-decreasing order (validated by the caller).
    Trace(Box<dyn Iterator<Item = SimTime> + Send>),
}

impl ArrivalStream {
    fn next(&mut self) -> Option<SimTime> {
        match self {
            ArrivalStream::Nhpp(a) => a.next_arrival(),
            ArrivalStream::Trace(it) => it.next(),
        }
    }
}

/// How a call ended. Every offered call ends in exactly one (or is counted unfinished).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Connected,
    /// An API request completed through every stage.
    Served,
    AbandonedWaiting,
    AbandonedRinging,
    NoAnswer,
    Failed,
    Unfinished,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Connected => "connected",
            Outcome::Served => "served",
            Outcome::AbandonedWaiting => "abandoned_waiting",
            Outcome::AbandonedRinging => "abandoned_ringing",
            Outcome::NoAnswer => "no_answer",
            Outcome::Failed => "failed",
            Outcome::Unfinished => "unfinished",
        }
    }
}

/// Why a leg failed at the carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegFailure {
    Rejected(u16),
    QueueFull,
    QueueTimeout,
    /// The attempt failed at a platform stage (after the client's retries).
    Stage {
        code: u16,
        why: platform::StageFail,
    },
}

/// One finished call, for per-call output (only produced when a sink is attached).
#[derive(Clone, Debug)]
pub struct CallRecord {
    pub source: usize,
    pub call_index: u64,
    pub attempt: u32,
    pub arrival: SimTime,
    pub backup: bool,
    pub legs: u32,
    pub outcome: Outcome,
    /// Arrival to the first leg ringing.
    pub pdd: Option<SimDuration>,
    /// Arrival to answer or hang-up or failure.
    pub wait: SimDuration,
    pub talk: Option<SimDuration>,
    pub failure_code: Option<u16>,
}

pub trait CallSink {
    fn record(&mut self, rec: &CallRecord);
    /// Called once after the run: flush, and report any error met while recording.
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Aligned to 8 bytes so moving an event is two aligned 8-byte copies (without it the compiler
/// copied the 15 bytes of data as two overlapping 8-byte loads, which stall on the stores that
/// just wrote the event: store forwarding fails). The tag is a `u32` for the same reason: with
/// a one-byte tag the compiler moved the tag alone and the 15 bytes after it as two
/// overlapping 8-byte moves at every event taken from the scheduler (the run loop's
/// `Option<(SimTime, Event)>`), and the load after them stalled the same way (perf: a fifth of
/// the run loop's samples on the Easycallnow compare). With a `u32` tag the payload is 12
/// bytes at offset 4, moved without overlap; the size stays 16.
#[derive(Clone, Copy, Debug)]
#[repr(u32, align(8))]
enum Event {
    Arrival {
        source: u32,
        gen: Gen,
    },
    /// A caller calling again; the details wait in `Model::redials` (keeps events small).
    Redial {
        slot: u32,
    },
    SetupDone {
        call: Ref<CallId>,
    },
    Patience {
        call: Ref<CallId>,
    },
    LegAnswer {
        leg: Ref<LegId>,
    },
    LegRingTimeout {
        leg: Ref<LegId>,
    },
    LegQueueTimeout {
        leg: Ref<LegId>,
    },
    /// A leg its carrier rejected is tried again.
    LegRetry {
        leg: Ref<LegId>,
    },
    TalkEnd {
        leg: Ref<LegId>,
    },
    CarrierWake {
        carrier: u32,
        gen: Gen,
    },
    Change {
        index: u32,
    },
    /// Scheduled by a manual backup policy (slot 0 the platform's, 1 + i source i's); stale
    /// when the slot's policy was replaced since.
    Backup {
        on: bool,
        gen: Gen,
        slot: u32,
    },
    JobDone {
        job: Ref<JobId>,
    },
    /// A lookup on a dependency with a connection pool finished (it frees the connection even
    /// when a pod crash killed its job meanwhile).
    LookupDone {
        dep: u32,
        job: Ref<JobId>,
    },
    /// A dependency node's random episode begins or ends; stale when its `episodes` changed.
    Episode {
        dep: u32,
        node: u32,
        gen: Gen,
    },
    /// The lookup of an out-of-band stage's job (`in_path = false`) failed as the job ends:
    /// the stage's `on_error` applies to the account.
    SideLookupFailed {
        stage: u16,
        measured: bool,
        source: u32,
        account: u32,
    },
    StageWaitTimeout {
        call: Ref<CallId>,
        try_gen: Gen,
    },
    ClientTimeout {
        call: Ref<CallId>,
        try_gen: Gen,
    },
    Retry {
        call: Ref<CallId>,
        try_gen: Gen,
    },
    PodUp {
        stage: u32,
        pod: u32,
        epoch: Gen,
    },
    Autoscale {
        stage: u32,
    },
    HealthCheck {
        dep: u32,
    },
    BackupEval {
        gen: Gen,
        slot: u32,
    },
}

pub struct Model<'a> {
    cfg: &'a ModelConfig,
    sched: Scheduler<Event>,
    sources: Vec<SourceState>,
    carriers: Vec<CarrierState>,
    calls: Slab<CallId, Call>,
    legs: Slab<LegId, Leg>,
    /// Some backup policy (the platform's or a source's) is on, since `backup_on_since`.
    backup_on: bool,
    backup_on_since: SimTime,
    backup: BackupState,
    /// Legs waiting in all carrier queues and channels in use on all carriers.
    queued_total: u64,
    channels_total: u64,
    obs: Observations,
    first_attempts: u64,
    redials: Vec<PendingRedial>,
    free_redials: Vec<u32>,
    instant_answers: Vec<Ref<LegId>>,
    /// Legs after the first of calls with several (see `Call::more`), rows reused.
    more_legs: Vec<[LegId; MAX_LEGS - 1]>,
    free_more: Vec<u32>,
    patience_checks: Vec<Ref<CallId>>,
    stages: Vec<platform::StageState>,
    deps: Vec<platform::DepState>,
    jobs: Slab<JobId, platform::Job>,
    /// Per call slot: the place reserved for the client's timeout of the call's current
    /// platform attempt, while it is not yet scheduled, or `Reserved::NONE` (see
    /// `platform::Model::arm_timeout`).
    deadlines: Vec<Reserved>,
    /// Schedule every client timeout when its attempt starts (tests only: the reference the
    /// lazy scheduling is checked against).
    eager_timeouts: bool,
    /// Per source, per account: blocked until a reset.
    blocked: Vec<Vec<bool>>,
    blocked_count: u64,
    /// Tenant index of each source (sources of one tenant share its limiters).
    tenant_of: Vec<usize>,
    /// Count per source as well (several sources or a platform); with one source and no
    /// platform its counts are the totals, copied at the end.
    per_source_detail: bool,
    sink: Option<&'a mut dyn CallSink>,
    scratch: Vec<u64>,
}

impl<'a> Model<'a> {
    /// Builds replication `replication` of `cfg` under `master_seed`. `arrivals` holds one
    /// stream per source, in source order (see `default_arrivals` for profile sources).
    pub fn new(
        cfg: &'a ModelConfig,
        master_seed: u64,
        replication: u64,
        arrivals: Vec<ArrivalStream>,
        sink: Option<&'a mut dyn CallSink>,
        keep_timeline: bool,
    ) -> Self {
        assert_eq!(
            arrivals.len(),
            cfg.sources.len(),
            "one arrival stream per source"
        );
        let (tenant_of, tenants) = tenant_indices(cfg);
        Model {
            cfg,
            sched: Scheduler::new(cfg.start),
            sources: calls::build_sources(cfg, master_seed, replication, arrivals),
            carriers: carriers::build_carriers(cfg),
            // SAFETY (all three slabs): the model's only slab of each id type.
            calls: unsafe { Slab::new(calls::Call::placeholder()) },
            legs: unsafe { Slab::new(carriers::Leg::placeholder()) },
            backup_on: false,
            backup_on_since: cfg.start,
            backup: BackupState::new(cfg.sources.len(), cfg.start),
            queued_total: 0,
            channels_total: 0,
            obs: new_observations(cfg, keep_timeline),
            first_attempts: 0,
            redials: Vec::new(),
            free_redials: Vec::new(),
            instant_answers: Vec::new(),
            more_legs: Vec::new(),
            free_more: Vec::new(),
            patience_checks: Vec::new(),
            stages: platform::build_stages(cfg, tenants, master_seed, replication),
            deps: platform::build_deps(cfg, master_seed, replication),
            jobs: unsafe { Slab::new(platform::Job::placeholder()) },
            deadlines: Vec::new(),
            eager_timeouts: false,
            blocked: cfg
                .sources
                .iter()
                .map(|s| vec![false; s.behaviour.client.accounts as usize])
                .collect(),
            blocked_count: 0,
            tenant_of,
            per_source_detail: cfg.sources.len() > 1 || !cfg.stages.is_empty(),
            sink,
            scratch: Vec::new(),
        }
    }

    /// Schedules every client timeout when its attempt starts, as the engine did before
    /// timeouts were scheduled lazily: the same order of events, more stale ones.
    #[cfg(test)]
    pub(super) fn with_eager_timeouts(mut self) -> Self {
        self.eager_timeouts = true;
        self
    }

    /// The arrival streams for `cfg` when every source is a rate profile; trace sources must be
    /// supplied by the caller (the model does no I/O), so this returns None if there is one.
    pub fn default_arrivals(
        cfg: &ModelConfig,
        master_seed: u64,
        replication: u64,
    ) -> Option<Vec<ArrivalStream>> {
        cfg.sources
            .iter()
            .map(|s| match &s.arrivals {
                ArrivalSpec::Profile(p) => {
                    Some(profile_stream(cfg, s, p, master_seed, replication))
                }
                ArrivalSpec::Trace(_) => None,
            })
            .collect()
    }

    /// Runs to completion (all events handled, or the drain limit reached) and returns what
    /// was observed. `progress` is called now and then with the simulated time.
    ///
    /// Never inlined: tools/icount.sh counts instructions from this symbol down.
    #[inline(never)]
    pub fn run(self, progress: &mut dyn FnMut(SimTime)) -> Observations {
        self.run_within(progress, &Limits::NONE)
            .expect("no limits, no limit error")
    }

    /// As `run`, stopping with an error that names what grew when the run passes `limits`
    /// (checked every 65,536 events, so by at most that many events' growth).
    #[inline(never)]
    pub fn run_within(
        mut self,
        progress: &mut dyn FnMut(SimTime),
        limits: &Limits,
    ) -> Result<Observations, String> {
        self.init();
        let stop_at = self.cfg.end.plus(self.cfg.drain);
        let mut tick: u32 = 0;
        while let Some((now, ev)) = self.sched.pop_until(stop_at) {
            self.obs.events += 1;
            self.handle(now, ev);
            self.settle(now);
            tick = tick.wrapping_add(1);
            if tick.is_multiple_of(65_536) {
                progress(now);
                self.check_limits(now, limits)?;
            }
        }
        // A run cut off by the drain limit ends at the limit, not at its last event. A client
        // timeout its attempt beat is never scheduled (`arm_timeout`), but its place was
        // reserved, and the run ends where it would have ended had the timeout been scheduled
        // and handled as a stale event, as before timeouts were scheduled lazily: the
        // timeline's last row, and the time backup routing was on, do not depend on how the
        // engine handles stale timeouts.
        let latest = self.sched.latest_reserved();
        let stopped_at_limit = self.sched.peek_time().is_some() || latest > stop_at;
        let end = if stopped_at_limit {
            stop_at
        } else {
            self.sched.now().max(latest)
        };
        Ok(self.finish(end))
    }

    fn init(&mut self) {
        let cfg = self.cfg;
        for i in 0..self.sources.len() {
            self.schedule_next_arrival(i as u32);
        }
        for (i, ch) in cfg.changes.iter().enumerate() {
            self.sched
                .schedule(ch.at.max(cfg.start), Event::Change { index: i as u32 });
        }
        self.init_backup(&cfg.backup, cfg.start);
        self.init_platform();
    }

    /// Hands an event to its handler. Events name calls, legs and jobs by generation-checked
    /// `Ref`s (and carriers, sources, policies and attempts by their own generations); a
    /// handler returns false when the event is stale, and it is counted here.
    fn handle(&mut self, now: SimTime, ev: Event) {
        let fresh = match ev {
            Event::Arrival { source, gen } => self.arrival(now, source, gen),
            Event::Redial { slot } => {
                self.redial(now, slot);
                true
            }
            Event::SetupDone { call } => self
                .waiting_call(call)
                .map(|id| self.start_legs(now, id))
                .is_some(),
            Event::Patience { call } => self
                .waiting_call(call)
                .map(|id| self.abandon(now, id))
                .is_some(),
            Event::LegAnswer { leg } => self
                .leg_in(leg, LegState::Ringing)
                .map(|id| self.answer(now, id))
                .is_some(),
            Event::LegRingTimeout { leg } => self
                .leg_in(leg, LegState::Ringing)
                .map(|id| self.ring_timeout(now, id))
                .is_some(),
            Event::LegQueueTimeout { leg } => self
                .leg_in(leg, LegState::Queued)
                .map(|id| self.queue_timeout(now, id))
                .is_some(),
            Event::LegRetry { leg } => self
                .leg_in(leg, LegState::Backoff)
                .map(|id| self.retry_leg(now, id))
                .is_some(),
            Event::TalkEnd { leg } => self
                .leg_in(leg, LegState::Talking)
                .map(|id| self.talk_end(now, id))
                .is_some(),
            Event::CarrierWake { carrier, gen } => self.carrier_wake(now, carrier, gen),
            Event::Change { index } => {
                self.apply_change(now, index as usize);
                true
            }
            Event::Backup { on, gen, slot } => {
                let fresh = self.backup.fresh(slot, gen);
                if fresh {
                    self.set_backup(slot, on, now);
                }
                fresh
            }
            Event::BackupEval { gen, slot } => {
                let fresh = self.backup.fresh(slot, gen);
                if fresh {
                    self.evaluate_auto(now, slot);
                }
                fresh
            }
            Event::JobDone { job } => self.job_done(now, job),
            Event::LookupDone { dep, job } => self.lookup_done(now, dep as usize, job),
            Event::Episode { dep, node, gen } => {
                self.episode_edge(now, dep as usize, node as usize, gen)
            }
            Event::SideLookupFailed {
                stage,
                measured,
                source,
                account,
            } => {
                self.side_lookup_failed(now, stage.into(), measured, source, account);
                true
            }
            Event::StageWaitTimeout { call, try_gen } => {
                self.stage_wait_timeout(now, call, try_gen)
            }
            Event::ClientTimeout { call, try_gen } => self.client_timeout(now, call, try_gen),
            Event::Retry { call, try_gen } => self.retry(now, call, try_gen),
            Event::PodUp { stage, pod, epoch } => self.pod_up(now, stage as usize, pod, epoch),
            Event::Autoscale { stage } => {
                self.autoscale(now, stage as usize);
                true
            }
            Event::HealthCheck { dep } => {
                self.health_check(now, dep as usize);
                true
            }
        };
        if !fresh {
            self.obs.stale_events += 1;
        }
    }

    /// Schedules `ev` after the fixed `delay` (a timeout or a period) in the scheduler's timer
    /// queue of that delay: same order as the heap, O(1) in and out.
    #[inline]
    fn timer(&mut self, now: SimTime, delay: SimDuration, ev: Event) {
        debug_assert_eq!(
            now,
            self.sched.now(),
            "timers are set by the event being handled"
        );
        self.sched.schedule_after(delay, ev);
    }

    /// The call `r` names, if it is still live and waiting for an answer.
    #[inline]
    fn waiting_call(&self, r: Ref<CallId>) -> Option<CallId> {
        let c = self.calls.get_live(r)?;
        (c.state == CallState::Waiting).then_some(r.id)
    }

    /// The leg `r` names, if it is still live and in `state`.
    #[inline]
    fn leg_in(&self, r: Ref<LegId>, state: LegState) -> Option<LegId> {
        let l = self.legs.get_live(r)?;
        (l.state == state).then_some(r.id)
    }

    /// Work deferred to the end of the current event: instant answers, then patience events of
    /// calls still waiting.
    fn settle(&mut self, now: SimTime) {
        let mut i = 0;
        while i < self.instant_answers.len() {
            let r = self.instant_answers[i];
            i += 1;
            if let Some(leg) = self.leg_in(r, LegState::Ringing) {
                let call = self.legs.get(leg).call;
                if self.calls.get(call).state == CallState::Waiting {
                    self.answer(now, leg);
                }
            }
        }
        self.instant_answers.clear();
        for k in 0..self.patience_checks.len() {
            let r = self.patience_checks[k];
            if let Some(id) = self.waiting_call(r) {
                let c = self.calls.get(id);
                let dist = self.sources[c.source as usize].behaviour.patience.as_ref();
                let p = dist
                    .expect("checked at arrival")
                    .sample_lazy(|| call_rng(c.seed, CallDraw::Patience, 0));
                self.sched
                    .schedule(c.arrival.plus(p), Event::Patience { call: r });
            }
        }
        self.patience_checks.clear();
    }

    fn finish(mut self, now: SimTime) -> Observations {
        self.count_unfinished(now);
        if self.backup_on {
            self.obs.backup_on_s += now.since(self.backup_on_since).as_secs_f64();
        }
        self.obs.timeline.finish(now);
        self.obs.dial_delay.settle();
        self.obs.pdd.settle();
        for w in &mut self.obs.windows {
            w.dial_delay.settle();
            w.pdd.settle();
            assert_eq!(
                w.counts.offered,
                w.counts.outcomes(),
                "conservation: every offered call of a window ends in exactly one outcome"
            );
        }
        if !self.per_source_detail {
            self.obs.per_source[0].total = self.obs.counts.clone();
        }
        let last = self.obs.timeline.index_of(now);
        for s in &mut self.obs.stages {
            s.finish(last);
        }
        self.obs.end_time = now;
        self.obs.pending_events_max = self.sched.pending_max();

        assert_eq!(
            self.obs.counts.offered,
            self.obs.counts.outcomes(),
            "conservation: every offered call ends in exactly one outcome"
        );
        self.assert_leg_balance();
        self.assert_platform_balance();
        self.obs
    }

    /// Calls still in flight at the drain limit are unfinished: each counted exactly once.
    /// Calls still talking were counted connected at answer; they and the unfinished ones still
    /// get their per-call row.
    fn count_unfinished(&mut self, now: SimTime) {
        let (mut unfinished_measured, mut unfinished_all) = (0u64, 0u64);
        let ids: Vec<CallId> = self.calls.iter_live().map(|(id, _)| id).collect();
        for id in ids {
            if !self.calls.is_live(id) {
                continue;
            }
            let c = self.calls.get(id);
            if c.state == CallState::Done {
                continue; // ended, kept only by a leg queued at a carrier (already emitted)
            }
            let outcome = if c.state == CallState::Waiting {
                unfinished_all += 1;
                unfinished_measured += u64::from(c.measured);
                for_each_window(&mut self.obs.windows, c.windows, |w| {
                    w.counts.unfinished += 1
                });
                if self.per_source_detail {
                    let (source, measured) = (c.source as usize, c.measured);
                    let idx = self.obs.timeline.index_of(now);
                    if measured {
                        self.obs.per_source[source].total.unfinished += 1;
                    }
                    if self.obs.timeline.keep {
                        self.obs.per_source[source].row(idx).unfinished += 1;
                    }
                }
                Outcome::Unfinished
            } else {
                Outcome::Connected
            };
            self.emit(now, id, outcome);
        }
        self.obs.counts.unfinished = unfinished_measured;
        self.obs.timeline.at(now, self.backup_on).unfinished += unfinished_all;
    }

    /// Every requested leg is accounted for: dialled, rejected, refused by a full queue, timed
    /// out in the queue, cancelled while queued, or still queued at the end (legs of measured
    /// calls in the totals, of each window's calls in the window). Also checks the running
    /// levels against the state they summarise. Cheap: once per run, over live legs only.
    fn assert_leg_balance(&self) {
        // (measured calls, all calls, per window) of queued legs and legs waiting to retry.
        let mut queued = LegTally::new(self.obs.windows.len());
        let mut backoff = LegTally::new(self.obs.windows.len());
        let mut live_legs_of_calls = 0u64;
        for (_, l) in self.legs.iter_live() {
            assert!(self.calls.is_live(l.call), "a live leg of a freed call");
            let c = self.calls.get(l.call);
            match l.state {
                LegState::Queued => queued.add(c.measured, c.windows),
                LegState::Backoff => backoff.add(c.measured, c.windows),
                LegState::Ringing | LegState::Talking => {}
            }
        }
        for (_, c) in self.calls.iter_live() {
            live_legs_of_calls += u64::from(c.live);
        }
        assert_eq!(
            live_legs_of_calls,
            self.legs.in_use() as u64,
            "leg balance: the calls' live-leg counts add up to the live legs"
        );
        let queue_live: u64 = self.carriers.iter().map(|c| c.queue_live).sum();
        assert_eq!(
            (queue_live, self.queued_total),
            (queued.all, queued.all),
            "leg balance: carrier queue counts and the queue level equal the queued legs"
        );
        let channels: u64 = self.carriers.iter().map(|c| c.channels.in_use()).sum();
        assert_eq!(
            self.channels_total, channels,
            "channel balance: the channel level equals the channels in use"
        );
        // Every attempt (a request or a retry) is dialled, refused or withdrawn, or still
        // queued; every rejection is retried, given up, dropped with its call, or waits.
        let balanced = |c: &Counts, still_queued: u64, in_backoff: u64| {
            c.legs_requested + c.legs_retried
                == c.legs_dialed
                    + c.legs_rejected
                    + c.legs_queue_full
                    + c.legs_queue_timeout
                    + c.legs_cancelled_queued
                    + still_queued
                && c.legs_rejected
                    == c.legs_retried + c.legs_gave_up + c.legs_cancelled_backoff + in_backoff
        };
        assert!(
            balanced(&self.obs.counts, queued.measured, backoff.measured),
            "leg balance: requested + retried == dialled + rejected + queue full + queue timeout + \
             cancelled while queued + still queued, and rejected == retried + gave up + \
             cancelled in backoff + in backoff ({:?}, {} still queued, {} in backoff)",
            self.obs.counts,
            queued.measured,
            backoff.measured
        );
        for (i, w) in self.obs.windows.iter().enumerate() {
            assert!(
                balanced(&w.counts, queued.windows[i], backoff.windows[i]),
                "leg balance of a window ({:?}, {} still queued, {} in backoff)",
                w.counts,
                queued.windows[i],
                backoff.windows[i]
            );
        }
    }
}

/// Legs counted for the end-of-run balance: of measured calls, of all calls, per window.
struct LegTally {
    measured: u64,
    all: u64,
    windows: Vec<u64>,
}

impl LegTally {
    fn new(windows: usize) -> Self {
        LegTally {
            measured: 0,
            all: 0,
            windows: vec![0; windows],
        }
    }
    fn add(&mut self, measured: bool, mask: u32) {
        self.all += 1;
        self.measured += u64::from(measured);
        for (i, n) in self.windows.iter_mut().enumerate() {
            *n += u64::from(mask >> i & 1);
        }
    }
}

/// Each source's tenant index (in order of first appearance) and the number of tenants.
fn tenant_indices(cfg: &ModelConfig) -> (Vec<usize>, usize) {
    let mut tenants: Vec<&str> = Vec::new();
    let tenant_of = cfg
        .sources
        .iter()
        .map(|s| {
            let t = s.behaviour.client.tenant.as_str();
            tenants.iter().position(|x| *x == t).unwrap_or_else(|| {
                tenants.push(t);
                tenants.len() - 1
            })
        })
        .collect();
    (tenant_of, tenants.len())
}

fn new_observations(cfg: &ModelConfig, keep_timeline: bool) -> Observations {
    Observations {
        counts: Counts::default(),
        dial_delay: DelayHist::default(),
        pdd: DelayHist::default(),
        answer_wait: MeanAcc::default(),
        abandon_wait: MeanAcc::default(),
        timeline: Timeline::new(cfg.start, cfg.interval, false, keep_timeline)
            .with_alerts(&cfg.alerts),
        events: 0,
        stale_events: 0,
        pending_events_max: 0,
        calls_in_flight_max: 0,
        end_time: cfg.start,
        backup_on_s: 0.0,
        backup_switches: 0,
        per_source: vec![SourceObs::default(); cfg.sources.len()],
        stages: cfg
            .stages
            .iter()
            .map(|s| {
                StageObs::new(
                    keep_timeline,
                    s.pods.as_ref().map(|p| u64::from(p.count)).unwrap_or(0),
                    cfg.start,
                    cfg.interval,
                )
            })
            .collect(),
        accounts_blocked_max: 0,
        failovers: 0,
        windows: vec![WindowObs::default(); cfg.windows.len()],
    }
}

/// The NHPP arrival stream of a profile source.
pub fn profile_stream(
    cfg: &ModelConfig,
    s: &SourceConfig,
    p: &crate::dist::RateProfile,
    master_seed: u64,
    replication: u64,
) -> ArrivalStream {
    let seed = component_seed(
        master_seed,
        replication,
        &format!("source:{}:arrivals", s.name),
    );
    ArrivalStream::Nhpp(NhppArrivals::new(
        p.clone(),
        s.behaviour.rate_scale,
        cfg.start,
        cfg.end,
        rng_from(seed),
    ))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_backup;
#[cfg(test)]
mod tests_legs;
#[cfg(test)]
mod tests_lookups;
#[cfg(test)]
mod tests_timeouts;

/// Applies `f` to the windows whose bit is set in `mask` (nothing, cheaply, when it is 0).
#[inline]
fn for_each_window(windows: &mut [WindowObs], mut mask: u32, mut f: impl FnMut(&mut WindowObs)) {
    while mask != 0 {
        let i = mask.trailing_zeros() as usize;
        f(&mut windows[i]);
        mask &= mask - 1;
    }
}
