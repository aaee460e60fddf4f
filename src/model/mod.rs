//! The telephony model: callers, calls, legs, carriers with dial-rate and channel limits, backup
//! routing and scheduled changes, as one closed `Event` enum handled by one owner of the state.
//!
//! Depends on engine, limiter, dist, rng and time. Does no I/O and reads no clock: arrivals from
//! a trace come in as an iterator, per-call records go out through the `CallSink` trait.

pub mod config;
pub mod obs;
pub mod platform;

use crate::dist::NhppArrivals;
use crate::engine::Scheduler;
use crate::limiter::{ChannelPool, Limiter, LimiterSpec};
use crate::rng::{call_rng, child, component_seed, rng_from, CallDraw};
const _: () = assert!(
    std::mem::size_of::<Event>() <= 16,
    "events stay small: the heap moves them"
);
use crate::time::{SimDuration, SimTime};
use config::*;
use obs::*;
use rand::Rng;
use std::collections::VecDeque;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ref {
    idx: u32,
    gen: u32,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Arrival {
        source: u32,
        gen: u32,
    },
    /// A caller calling again; the details wait in `Model::redials` (keeps events small).
    Redial {
        slot: u32,
    },
    SetupDone {
        call: Ref,
    },
    Patience {
        call: Ref,
    },
    LegAnswer {
        leg: Ref,
    },
    LegRingTimeout {
        leg: Ref,
    },
    LegQueueTimeout {
        leg: Ref,
    },
    TalkEnd {
        leg: Ref,
    },
    CarrierWake {
        carrier: u32,
        gen: u32,
    },
    Change {
        index: u32,
    },
    /// Scheduled by a manual backup policy; stale when the policy was replaced since.
    Backup {
        on: bool,
        gen: u32,
    },
    JobDone {
        job: Ref,
    },
    StageWaitTimeout {
        call: Ref,
        try_gen: u32,
    },
    ClientTimeout {
        call: Ref,
        try_gen: u32,
    },
    Retry {
        call: Ref,
        try_gen: u32,
    },
    PodUp {
        stage: u32,
        pod: u32,
        epoch: u32,
    },
    Autoscale {
        stage: u32,
    },
    HealthCheck {
        dep: u32,
    },
    BackupEval {
        gen: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallState {
    /// Before an answer: in setup, waiting for dial slots, or ringing.
    Waiting,
    Connected,
    Done,
}

struct Call {
    gen: u32,
    source: u32,
    call_index: u64,
    attempt: u32,
    seed: u64,
    arrival: SimTime,
    state: CallState,
    backup: bool,
    sequential: bool,
    legs_total: u32,
    legs_started: u32,
    legs: [u32; MAX_LEGS],
    live: u32,
    first_ring: Option<SimTime>,
    answered_at: SimTime,
    /// Arrived after the warm-up: counted in the summary statistics.
    measured: bool,
    /// Bit i set: arrived in named window i (counted in its metrics, warm-up or not).
    windows: u32,
    /// Platform progress: the account, the stage reached, client retries so far, the current
    /// attempt's generation (stale job results and timeouts are dropped), whether the call is
    /// still in the platform and whether it waits in a stage's queue.
    account: u32,
    stage_pos: u32,
    tries: u32,
    try_gen: u32,
    in_platform: bool,
    stage_queued: bool,
    any_rang: bool,
    last_failure: Option<LegFailure>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LegState {
    Queued,
    Ringing,
    Talking,
}

struct Leg {
    gen: u32,
    call: u32,
    dest: u32,
    carrier: u32,
    requested: SimTime,
    counted: bool,
    state: LegState,
}

/// Dense storage with a free list; a slot's generation rises on every free so stale event
/// references are detected.
struct Slab<T> {
    items: Vec<T>,
    live: Vec<bool>,
    free: Vec<u32>,
    in_use: usize,
    in_use_max: usize,
}

impl<T> Slab<T> {
    fn new() -> Self {
        Slab {
            items: Vec::new(),
            live: Vec::new(),
            free: Vec::new(),
            in_use: 0,
            in_use_max: 0,
        }
    }
    fn insert(&mut self, make: impl FnOnce(u32) -> T, gen_of: impl Fn(&T) -> u32) -> Ref {
        self.in_use += 1;
        self.in_use_max = self.in_use_max.max(self.in_use);
        if let Some(idx) = self.free.pop() {
            let gen = gen_of(&self.items[idx as usize]);
            self.items[idx as usize] = make(gen);
            self.live[idx as usize] = true;
            Ref { idx, gen }
        } else {
            let idx = self.items.len() as u32;
            self.items.push(make(0));
            self.live.push(true);
            Ref { idx, gen: 0 }
        }
    }
    fn get(&self, idx: u32) -> &T {
        &self.items[idx as usize]
    }
    fn get_mut(&mut self, idx: u32) -> &mut T {
        &mut self.items[idx as usize]
    }
    fn is_live(&self, idx: u32) -> bool {
        self.live[idx as usize]
    }
    fn remove(&mut self, idx: u32, bump: impl FnOnce(&mut T)) {
        assert!(self.live[idx as usize], "double free of slot {idx}");
        self.live[idx as usize] = false;
        bump(&mut self.items[idx as usize]);
        self.free.push(idx);
        self.in_use -= 1;
    }
}

#[derive(Clone, Copy)]
struct PendingRedial {
    source: u32,
    call_index: u64,
    attempt: u32,
    seed: u64,
}

struct SourceState {
    behaviour: SourceBehaviour,
    /// Generation of the pending arrival (a rate change redraws it).
    arrival_gen: u32,
    arrivals: ArrivalStream,
    seed: u64,
    next_index: u64,
}

struct CarrierState {
    cfg: CarrierConfig,
    limiter: Limiter,
    channels: ChannelPool,
    queue: VecDeque<Ref>,
    queue_live: u64,
    wake_gen: u32,
    wake_at: Option<SimTime>,
}

struct AutoState {
    cfg: AutoBackup,
    /// (dial time, delay) of legs dialled within the window.
    recent: VecDeque<(SimTime, SimDuration)>,
    on_since: SimTime,
}

/// Sources whose arrivals use scheduler lanes; beyond this many the lane scan would cost more
/// than the heap saves, and arrivals go through the heap.
const MAX_ARRIVAL_LANES: usize = 16;

/// Bound on the auto policy's sample window (entries), so memory stays bounded whatever the
/// dial rate; beyond it the oldest samples are dropped.
const AUTO_WINDOW_MAX: usize = 1 << 20;

pub struct Model<'a> {
    cfg: &'a ModelConfig,
    sched: Scheduler<Event>,
    sources: Vec<SourceState>,
    carriers: Vec<CarrierState>,
    calls: Slab<Call>,
    legs: Slab<Leg>,
    backup_on: bool,
    backup_on_since: SimTime,
    /// Generation of the backup policy in force; events of replaced policies are stale.
    backup_gen: u32,
    auto: Option<AutoState>,
    /// Legs waiting in all carrier queues and channels in use on all carriers.
    queued_total: u64,
    channels_total: u64,
    obs: Observations,
    first_attempts: u64,
    redials: Vec<PendingRedial>,
    free_redials: Vec<u32>,
    instant_answers: Vec<Ref>,
    patience_checks: Vec<Ref>,
    stages: Vec<platform::StageState>,
    deps: Vec<platform::DepState>,
    jobs: Slab<platform::Job>,
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
        let sources = cfg
            .sources
            .iter()
            .zip(arrivals)
            .map(|(s, a)| SourceState {
                behaviour: s.behaviour.clone(),
                arrival_gen: 0,
                arrivals: a,
                seed: component_seed(
                    master_seed,
                    replication,
                    &format!("source:{}:calls", s.name),
                ),
                next_index: 0,
            })
            .collect();
        let carriers = cfg
            .carriers
            .iter()
            .map(|c| CarrierState {
                cfg: c.clone(),
                limiter: Limiter::new(&c.limiter, cfg.start),
                channels: ChannelPool::new(c.channels),
                queue: VecDeque::new(),
                queue_live: 0,
                wake_gen: 0,
                wake_at: None,
            })
            .collect();
        let mut tenants: Vec<&str> = Vec::new();
        let tenant_of: Vec<usize> = cfg
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
        let obs = Observations {
            counts: Counts::default(),
            dial_delay: DelayHist::default(),
            pdd: DelayHist::default(),
            answer_wait: MeanAcc::default(),
            abandon_wait: MeanAcc::default(),
            timeline: Timeline::new(cfg.start, cfg.interval, false, keep_timeline),
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
                    )
                })
                .collect(),
            accounts_blocked_max: 0,
            failovers: 0,
            windows: vec![WindowObs::default(); cfg.windows.len()],
        };
        Model {
            cfg,
            sched: Scheduler::new(cfg.start),
            sources,
            carriers,
            calls: Slab::new(),
            legs: Slab::new(),
            backup_on: false,
            backup_on_since: cfg.start,
            backup_gen: 0,
            queued_total: 0,
            channels_total: 0,
            auto: None,
            obs,
            first_attempts: 0,
            redials: Vec::new(),
            free_redials: Vec::new(),
            instant_answers: Vec::new(),
            patience_checks: Vec::new(),
            stages: platform::build_stages(cfg, tenants.len()),
            deps: platform::build_deps(cfg, master_seed, replication),
            jobs: Slab::new(),
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
    pub fn run(mut self, progress: &mut dyn FnMut(SimTime)) -> Observations {
        self.init();
        let stop_at = self.cfg.end.plus(self.cfg.drain);
        let mut tick: u32 = 0;
        let mut stopped_at_limit = false;
        while let Some(t) = self.sched.peek_time() {
            if t > stop_at {
                stopped_at_limit = true;
                break;
            }
            let (now, ev) = self.sched.pop().expect("peeked");
            self.obs.events += 1;
            self.handle(now, ev);
            self.settle(now);
            tick = tick.wrapping_add(1);
            if tick.is_multiple_of(65_536) {
                progress(now);
            }
        }
        // A run cut off by the drain limit ends at the limit, not at its last event.
        let end = if stopped_at_limit {
            stop_at
        } else {
            self.sched.now()
        };
        self.finish(end)
    }

    fn init(&mut self) {
        let start = self.cfg.start;
        for i in 0..self.sources.len() {
            self.schedule_next_arrival(i as u32);
        }
        for (i, ch) in self.cfg.changes.iter().enumerate() {
            self.sched
                .schedule(ch.at.max(start), Event::Change { index: i as u32 });
        }
        self.apply_backup_config(&self.cfg.backup.clone(), start);
        self.init_platform();
    }

    /// Puts a backup policy in force: events of the previous policy become stale. A manual
    /// policy is on exactly inside its windows; an automatic one keeps the current state and
    /// decides at its next evaluation.
    fn apply_backup_config(&mut self, b: &BackupConfig, now: SimTime) {
        self.auto = None;
        self.backup_gen = self.backup_gen.wrapping_add(1);
        let gen = self.backup_gen;
        match &b.policy {
            BackupPolicy::Off => self.set_backup(false, now),
            BackupPolicy::Manual(windows) => {
                let mut on_now = false;
                for &(from, to) in windows {
                    if from <= now && now < to {
                        on_now = true;
                    }
                    if from > now {
                        self.sched.schedule(from, Event::Backup { on: true, gen });
                    }
                    if to > now {
                        self.sched.schedule(to, Event::Backup { on: false, gen });
                    }
                }
                self.set_backup(on_now, now);
            }
            BackupPolicy::Auto(a) => {
                self.auto = Some(AutoState {
                    cfg: a.clone(),
                    recent: VecDeque::new(),
                    on_since: if self.backup_on {
                        self.backup_on_since
                    } else {
                        now
                    },
                });
                let first = now.plus(a.evaluate_every);
                if first < self.cfg.end {
                    self.sched.schedule(first, Event::BackupEval { gen });
                }
            }
        }
    }

    fn set_backup(&mut self, on: bool, now: SimTime) {
        if on == self.backup_on {
            return;
        }
        if self.backup_on {
            self.obs.backup_on_s += now.since(self.backup_on_since).as_secs_f64();
        } else {
            self.backup_on_since = now;
            self.obs.backup_switches += 1;
        }
        // Close earlier intervals with the state that held during them, then switch.
        let _ = self.obs.timeline.at(now, self.backup_on);
        self.backup_on = on;
        if on {
            self.obs.timeline.note_backup_on();
            if let Some(a) = &mut self.auto {
                a.on_since = now;
            }
        }
    }

    fn schedule_next_arrival(&mut self, source: u32) {
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
            if self.sources.len() <= MAX_ARRIVAL_LANES && gen == 0 {
                // One pending arrival per source: a lane beside the heap (same ordering).
                self.sched
                    .schedule_lane(source as usize, t, Event::Arrival { source, gen });
            } else {
                self.sched.schedule(t, Event::Arrival { source, gen });
            }
            return;
        }
    }

    fn handle(&mut self, now: SimTime, ev: Event) {
        match ev {
            Event::Arrival { source, gen } if gen != self.sources[source as usize].arrival_gen => {
                self.obs.stale_events += 1;
            }
            Event::Arrival { source, .. } => {
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
            }
            Event::Redial { slot } => {
                let r = self.redials[slot as usize];
                self.free_redials.push(slot);
                self.new_call(now, r.source, r.call_index, r.attempt, r.seed);
            }
            Event::SetupDone { call } => {
                if self.call_ok(call) && self.calls.get(call.idx).state == CallState::Waiting {
                    self.start_legs(now, call.idx);
                } else {
                    self.obs.stale_events += 1;
                }
            }
            Event::Patience { call } => {
                if self.call_ok(call) && self.calls.get(call.idx).state == CallState::Waiting {
                    self.abandon(now, call.idx);
                } else {
                    self.obs.stale_events += 1;
                }
            }
            Event::LegAnswer { leg } => {
                if self.leg_ok(leg) && self.legs.get(leg.idx).state == LegState::Ringing {
                    self.answer(now, leg.idx);
                } else {
                    self.obs.stale_events += 1;
                }
            }
            Event::LegRingTimeout { leg } => {
                if self.leg_ok(leg) && self.legs.get(leg.idx).state == LegState::Ringing {
                    let carrier = self.legs.get(leg.idx).carrier;
                    self.release_channel(now, carrier);
                    let call = self.legs.get(leg.idx).call;
                    self.calls.get_mut(call).any_rang = true;
                    self.end_leg(now, leg.idx, None);
                    self.drain(now, carrier);
                } else {
                    self.obs.stale_events += 1;
                }
            }
            Event::LegQueueTimeout { leg } => {
                if self.leg_ok(leg) && self.legs.get(leg.idx).state == LegState::Queued {
                    let carrier = self.legs.get(leg.idx).carrier;
                    self.carriers[carrier as usize].queue_live -= 1;
                    self.queue_delta(now, false);
                    let cl = self.legs.get(leg.idx).call;
                    self.tally(now, cl, |c| c.legs_queue_timeout += 1);
                    self.end_leg(now, leg.idx, Some(LegFailure::QueueTimeout));
                    self.drain(now, carrier);
                } else {
                    self.obs.stale_events += 1;
                }
            }
            Event::TalkEnd { leg } => {
                if self.leg_ok(leg) && self.legs.get(leg.idx).state == LegState::Talking {
                    self.talk_end(now, leg.idx);
                } else {
                    self.obs.stale_events += 1;
                }
            }
            Event::CarrierWake { carrier, gen } => {
                let c = &mut self.carriers[carrier as usize];
                if c.wake_gen == gen {
                    c.wake_at = None;
                    self.drain(now, carrier);
                } else {
                    self.obs.stale_events += 1;
                }
            }
            Event::Change { index } => self.apply_change(now, index as usize),
            Event::Backup { on, gen } if gen == self.backup_gen => self.set_backup(on, now),
            Event::BackupEval { gen } if gen == self.backup_gen => self.evaluate_auto(now),
            Event::Backup { .. } | Event::BackupEval { .. } => self.obs.stale_events += 1,
            Event::JobDone { job } => self.job_done(now, job),
            Event::StageWaitTimeout { call, try_gen } => {
                self.stage_wait_timeout(now, call, try_gen)
            }
            Event::ClientTimeout { call, try_gen } => self.client_timeout(now, call, try_gen),
            Event::Retry { call, try_gen } => self.retry(now, call, try_gen),
            Event::PodUp { stage, pod, epoch } => self.pod_up(now, stage as usize, pod, epoch),
            Event::Autoscale { stage } => self.autoscale(now, stage as usize),
            Event::HealthCheck { dep } => self.health_check(now, dep as usize),
        }
    }

    /// Work deferred to the end of the current event: instant answers, then patience events of
    /// calls still waiting.
    fn settle(&mut self, now: SimTime) {
        let mut i = 0;
        while i < self.instant_answers.len() {
            let r = self.instant_answers[i];
            i += 1;
            if self.leg_ok(r) && self.legs.get(r.idx).state == LegState::Ringing {
                let call = self.legs.get(r.idx).call;
                if self.calls.get(call).state == CallState::Waiting {
                    self.answer(now, r.idx);
                }
            }
        }
        self.instant_answers.clear();
        for k in 0..self.patience_checks.len() {
            let r = self.patience_checks[k];
            if self.call_ok(r) && self.calls.get(r.idx).state == CallState::Waiting {
                let c = self.calls.get(r.idx);
                let dist = self.sources[c.source as usize].behaviour.patience.as_ref();
                let p = dist.expect("checked at arrival").sample(&mut call_rng(
                    c.seed,
                    CallDraw::Patience,
                    0,
                ));
                self.sched
                    .schedule(c.arrival.plus(p), Event::Patience { call: r });
            }
        }
        self.patience_checks.clear();
    }

    fn call_ok(&self, r: Ref) -> bool {
        self.calls.is_live(r.idx) && self.calls.get(r.idx).gen == r.gen
    }
    fn leg_ok(&self, r: Ref) -> bool {
        self.legs.is_live(r.idx) && self.legs.get(r.idx).gen == r.gen
    }

    fn new_call(&mut self, now: SimTime, source: u32, call_index: u64, attempt: u32, seed: u64) {
        let b = &self.sources[source as usize].behaviour;
        let is_call = b.client.kind == SourceKind::Call;
        // Backup routing is the carrier's path for calls: it skips the platform entirely.
        let backup = self.backup_on && is_call;
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
        let r = self.calls.insert(
            |gen| Call {
                gen,
                source,
                call_index,
                attempt,
                seed,
                arrival: now,
                state: CallState::Waiting,
                backup,
                sequential: sequential && !backup,
                legs_total: 0,
                legs_started: 0,
                legs: [u32::MAX; MAX_LEGS],
                live: 0,
                first_ring: None,
                answered_at: SimTime::ZERO,
                measured,
                windows,
                account,
                stage_pos: 0,
                tries: 0,
                try_gen: 0,
                in_platform: false,
                stage_queued: false,
                any_rang: false,
                last_failure: None,
            },
            |c| c.gen,
        );
        self.obs.calls_in_flight_max = self.obs.calls_in_flight_max.max(self.calls.in_use);
        self.tally(now, r.idx, |c| {
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
            self.begin_dialling(now, r);
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
    fn begin_dialling(&mut self, now: SimTime, r: Ref) {
        let c = self.calls.get(r.idx);
        let setup = if c.backup {
            SimDuration::ZERO
        } else {
            self.sources[c.source as usize]
                .behaviour
                .setup_delay
                .sample(&mut call_rng(c.seed, CallDraw::Setup, 0))
        };
        if setup == SimDuration::ZERO {
            self.start_legs(now, r.idx);
        } else {
            self.sched
                .schedule(now.plus(setup), Event::SetupDone { call: r });
        }
    }

    fn start_legs(&mut self, now: SimTime, call: u32) {
        let c = self.calls.get(call);
        let k = if c.backup {
            1
        } else {
            let b = &self.sources[c.source as usize].behaviour;
            b.flow
                .legs
                .sample(&mut call_rng(c.seed, CallDraw::FanOut, 0))
                .clamp(1, MAX_LEGS as u32)
        };
        let sequential = c.sequential;
        self.calls.get_mut(call).legs_total = k;
        let first_batch = if sequential { 1 } else { k };
        for _ in 0..first_batch {
            if self.calls.get(call).state != CallState::Waiting {
                break; // e.g. every leg so far was rejected and the call already failed
            }
            self.request_leg(now, call);
        }
    }

    /// Places the call's next leg with its carrier: dial now, queue, or fail.
    fn request_leg(&mut self, now: SimTime, call: u32) {
        let c = self.calls.get(call);
        let dest = c.legs_started;
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
        let r = self.legs.insert(
            |gen| Leg {
                gen,
                call,
                dest,
                carrier,
                requested: now,
                counted,
                state: LegState::Queued,
            },
            |l| l.gen,
        );
        let c = self.calls.get_mut(call);
        c.legs[dest as usize] = r.idx;
        c.legs_started += 1;
        c.live += 1;
        self.tally(now, call, |c| c.legs_requested += 1);

        let cs = &mut self.carriers[carrier as usize];
        if cs.queue_live == 0
            && cs.channels.available()
            && (!counted || cs.limiter.next_admit(now) == now)
        {
            if counted {
                cs.limiter.admit(now);
            }
            self.dial(now, r.idx);
            return;
        }
        match cs.cfg.over_limit {
            OverLimit::Reject { code } => {
                self.tally(now, call, |c| c.legs_rejected += 1);
                self.end_leg(now, r.idx, Some(LegFailure::Rejected(code)));
            }
            OverLimit::Queue { capacity, max_wait } => {
                if capacity.is_some_and(|cap| cs.queue_live >= cap) {
                    self.tally(now, call, |c| c.legs_queue_full += 1);
                    self.end_leg(now, r.idx, Some(LegFailure::QueueFull));
                    return;
                }
                cs.queue.push_back(r);
                cs.queue_live += 1;
                self.tally(now, call, |c| c.legs_queued += 1);
                self.queue_delta(now, true);
                if let Some(w) = max_wait {
                    self.sched
                        .schedule(now.plus(w), Event::LegQueueTimeout { leg: r });
                }
                self.drain(now, carrier);
            }
        }
    }

    /// Dials queued legs of `carrier` in FIFO order while a channel and (for counted legs) a
    /// dial token are available; otherwise arranges to be woken when the next token is due.
    fn drain(&mut self, now: SimTime, carrier: u32) {
        loop {
            let cs = &mut self.carriers[carrier as usize];
            let Some(&head) = cs.queue.front() else {
                return;
            };
            let live = self.legs.is_live(head.idx) && self.legs.get(head.idx).gen == head.gen;
            if !live || self.legs.get(head.idx).state != LegState::Queued {
                cs.queue.pop_front(); // cancelled or timed out: dropped lazily
                continue;
            }
            if !cs.channels.available() {
                return; // a channel release calls drain again
            }
            if self.legs.get(head.idx).counted {
                let t = cs.limiter.next_admit(now);
                if t > now {
                    if t != SimTime::MAX && cs.wake_at.is_none_or(|w| w > t) {
                        cs.wake_gen = cs.wake_gen.wrapping_add(1);
                        cs.wake_at = Some(t);
                        let gen = cs.wake_gen;
                        self.sched.schedule(t, Event::CarrierWake { carrier, gen });
                    }
                    return;
                }
                cs.limiter.admit(now);
            }
            cs.queue.pop_front();
            cs.queue_live -= 1;
            self.queue_delta(now, false);
            self.dial(now, head.idx);
        }
    }

    fn dial(&mut self, now: SimTime, leg: u32) {
        let l = self.legs.get_mut(leg);
        l.state = LegState::Ringing;
        let (call, dest, carrier, requested) = (l.call, l.dest, l.carrier, l.requested);
        let gen = l.gen;
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
        if let Some(a) = &mut self.auto {
            if a.recent.len() >= AUTO_WINDOW_MAX {
                a.recent.pop_front();
            }
            a.recent.push_back((now, delay));
        }
        let c = self.calls.get_mut(call);
        if c.first_ring.is_none() {
            c.first_ring = Some(now);
            let pdd = now.since(c.arrival);
            if c.measured {
                self.obs.pdd.record(pdd);
            }
            for_each_window(&mut self.obs.windows, c.windows, |w| w.pdd.record(pdd));
            if self.obs.timeline.keep {
                self.obs.timeline.at(now, self.backup_on);
                self.obs.timeline.record_pdd(pdd);
            }
        }
        let (seed, source) = (c.seed, c.source);
        let flow = &self.sources[source as usize].behaviour.flow;
        let d = &flow.destinations[(dest as usize).min(flow.destinations.len() - 1)];
        let mut rng = call_rng(seed, CallDraw::Destination, dest as u64);
        let answers = rng.random::<f64>() < d.answer_probability;
        let tta = d.time_to_answer.sample(&mut rng);
        let r = Ref { idx: leg, gen };
        if answers && tta == SimDuration::ZERO {
            // Answered the instant it rings: handled when the current event is done (as an
            // event at `now` would be, e.g. after all legs of a simulcall are placed), without
            // a trip through the event queue.
            self.instant_answers.push(r);
        } else if answers && tta < d.ring_timeout {
            self.sched
                .schedule(now.plus(tta), Event::LegAnswer { leg: r });
        } else {
            self.sched
                .schedule(now.plus(d.ring_timeout), Event::LegRingTimeout { leg: r });
        }
    }

    fn answer(&mut self, now: SimTime, leg: u32) {
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
        let talk = self.sources[source as usize]
            .behaviour
            .talk_time
            .sample(&mut call_rng(seed, CallDraw::Talk, 0));
        let gen = self.legs.get(leg).gen;
        self.sched.schedule(
            now.plus(talk),
            Event::TalkEnd {
                leg: Ref { idx: leg, gen },
            },
        );
    }

    fn talk_end(&mut self, now: SimTime, leg: u32) {
        let l = self.legs.get(leg);
        let (call, carrier) = (l.call, l.carrier);
        self.release_channel(now, carrier);
        self.legs.remove(leg, |l| l.gen = l.gen.wrapping_add(1));
        let c = self.calls.get_mut(call);
        c.live -= 1;
        c.state = CallState::Done;
        self.emit(now, call, Outcome::Connected);
        self.free_call(call);
        self.drain(now, carrier);
    }

    fn abandon(&mut self, now: SimTime, call: u32) {
        let ringing = self.calls.get(call).first_ring.is_some();
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
        self.conclude(now, call, outcome);
    }

    /// Cancels every live leg of `call` except `keep`: queued legs leave the queue (lazily),
    /// ringing legs are hung up and free their channel.
    fn cancel_legs(&mut self, now: SimTime, call: u32, keep: Option<u32>) {
        let c = self.calls.get(call);
        let legs = c.legs;
        let n = c.legs_started as usize;
        let mut carriers_to_drain: [u32; MAX_LEGS] = [u32::MAX; MAX_LEGS];
        let mut nd = 0;
        for &leg in &legs[..n] {
            if Some(leg) == keep
                || leg == u32::MAX
                || !self.legs.is_live(leg)
                || self.legs.get(leg).call != call
            {
                continue;
            }
            let l = self.legs.get(leg);
            let carrier = l.carrier;
            match l.state {
                LegState::Queued => {
                    self.carriers[carrier as usize].queue_live -= 1;
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
                LegState::Talking => unreachable!("a talking leg is never cancelled"),
            }
            self.legs.remove(leg, |l| l.gen = l.gen.wrapping_add(1));
            self.calls.get_mut(call).live -= 1;
        }
        for &carrier in &carriers_to_drain[..nd] {
            self.drain(now, carrier);
        }
    }

    /// A leg ended without an answer (rang out, or failed at the carrier). The call moves to its
    /// next leg (sequential), or fails or goes unanswered when no leg is left.
    fn end_leg(&mut self, now: SimTime, leg: u32, failure: Option<LegFailure>) {
        let call = self.legs.get(leg).call;
        self.legs.remove(leg, |l| l.gen = l.gen.wrapping_add(1));
        let c = self.calls.get_mut(call);
        c.live -= 1;
        if failure.is_some() {
            c.last_failure = failure;
        }
        if c.state != CallState::Waiting {
            return;
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

    /// Records a call's final non-connected outcome, schedules a redial if the caller tries
    /// again, and frees the call.
    fn conclude(&mut self, now: SimTime, call: u32, outcome: Outcome) {
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
        let cl = self.calls.get(call);
        let (source, call_index, attempt, seed) = (cl.source, cl.call_index, cl.attempt, cl.seed);
        if let Some(rd) = &self.sources[source as usize].behaviour.redial {
            let eligible = match outcome {
                Outcome::AbandonedWaiting | Outcome::AbandonedRinging => rd.after_abandon,
                Outcome::Failed => rd.after_failure,
                Outcome::NoAnswer => rd.after_no_answer,
                _ => false,
            };
            if eligible && attempt < rd.max_attempts {
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
        }
        self.emit(now, call, outcome);
        if self.calls.get(call).live == 0 {
            self.free_call(call);
        }
    }

    /// Writes a call's row to the per-call sink, if one is attached.
    fn emit(&mut self, now: SimTime, call: u32, outcome: Outcome) {
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
            legs: c.legs_started,
            outcome,
            pdd: c.first_ring.map(|r| r.since(c.arrival)),
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

    /// Tracks the legs waiting in all queues for the timeline. (`channel_delta` below has the same
    /// shape; merged into one function taking the level as an argument they cost 2.7% more
    /// instructions on the Erlang-A benchmark, so they stay two.)
    #[inline]
    fn queue_delta(&mut self, now: SimTime, up: bool) {
        if up {
            self.queued_total += 1;
        } else {
            self.queued_total -= 1;
        }
        if !self.obs.timeline.keep {
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
            self.channels_total -= 1;
        }
        if !self.obs.timeline.keep {
            return;
        }
        self.obs.timeline.at(now, self.backup_on);
        self.obs.timeline.set_channels(self.channels_total);
    }

    /// Counts an event of `call` in the timeline and its source's timeline (when kept), and in
    /// the summary and its source's totals (calls after the warm-up).
    #[inline]
    fn tally(&mut self, now: SimTime, call: u32, f: impl Fn(&mut Counts)) {
        let c = self.calls.get(call);
        let (measured, source, windows) = (c.measured, c.source as usize, c.windows);
        for_each_window(&mut self.obs.windows, windows, |w| f(&mut w.counts));
        if self.obs.timeline.keep {
            f(self.obs.timeline.at(now, self.backup_on));
            if self.per_source_detail {
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

    fn free_call(&mut self, call: u32) {
        self.calls.remove(call, |c| c.gen = c.gen.wrapping_add(1));
    }

    #[inline]
    fn release_channel(&mut self, now: SimTime, carrier: u32) {
        self.carriers[carrier as usize].channels.release();
        self.channel_delta(now, false);
    }

    fn apply_change(&mut self, now: SimTime, index: usize) {
        let ch = &self.cfg.changes[index];
        match &ch.kind {
            k
            @ (ChangeKind::Stage(..) | ChangeKind::Dependency(..) | ChangeKind::ResetAccounts) => {
                self.apply_platform_change(now, k);
            }
            ChangeKind::Carrier(i, cfg) => {
                let cs = &mut self.carriers[*i];
                cs.limiter.reconfigure(&cfg.limiter, now);
                cs.channels.set_limit(cfg.channels);
                cs.cfg = cfg.clone();
                // A raised limit may admit the head now; an old wake may be too late.
                cs.wake_at = None;
                cs.wake_gen = cs.wake_gen.wrapping_add(1);
                self.drain(now, *i as u32);
            }
            ChangeKind::Source(i, b) => {
                let scale_changed = self.sources[*i].behaviour.rate_scale != b.rate_scale;
                self.sources[*i].behaviour = b.clone();
                if scale_changed {
                    if let ArrivalStream::Nhpp(a) = &mut self.sources[*i].arrivals {
                        a.restart(b.rate_scale, now);
                        let s = &mut self.sources[*i];
                        s.arrival_gen = s.arrival_gen.wrapping_add(1);
                        self.schedule_next_arrival(*i as u32);
                    }
                }
            }
            ChangeKind::Backup(b) => {
                let b = b.clone();
                self.apply_backup_config(&b, now);
            }
        }
    }

    fn evaluate_auto(&mut self, now: SimTime) {
        let Some(a) = &mut self.auto else { return };
        let cutoff = SimTime(now.as_ns().saturating_sub(a.cfg.window.as_ns()));
        while a.recent.front().is_some_and(|&(t, _)| t < cutoff) {
            a.recent.pop_front();
        }
        let metric = match a.cfg.metric {
            AutoMetric::DialDelayP95 => {
                self.scratch.clear();
                self.scratch
                    .extend(a.recent.iter().map(|&(_, d)| d.as_ns()));
                if self.scratch.is_empty() {
                    // Nothing dialled in the window says nothing about delay (all channels may
                    // be busy): no sample, no switch.
                    None
                } else {
                    let k = ((self.scratch.len() as f64 * 0.95).ceil() as usize)
                        .clamp(1, self.scratch.len())
                        - 1;
                    let (_, v, _) = self.scratch.select_nth_unstable(k);
                    Some(SimDuration(*v))
                }
            }
            AutoMetric::OldestWait => {
                let mut oldest = SimDuration::ZERO;
                for cs in &self.carriers {
                    if let Some(r) = cs.queue.iter().find(|r| {
                        self.legs.is_live(r.idx)
                            && self.legs.get(r.idx).gen == r.gen
                            && self.legs.get(r.idx).state == LegState::Queued
                    }) {
                        oldest = oldest.max(now.since(self.legs.get(r.idx).requested));
                    }
                }
                Some(oldest)
            }
        };
        let a = self.auto.as_ref().expect("auto policy present");
        let (on_above, off_below, min_on, every) = (
            a.cfg.on_above,
            a.cfg.off_below,
            a.cfg.min_on,
            a.cfg.evaluate_every,
        );
        let on_since = a.on_since;
        match metric {
            Some(m) if !self.backup_on && m > on_above => self.set_backup(true, now),
            Some(m) if self.backup_on && m < off_below && now.since(on_since) >= min_on => {
                self.set_backup(false, now)
            }
            _ => {}
        }
        let next = now.plus(every);
        if next < self.cfg.end {
            let gen = self.backup_gen;
            self.sched.schedule(next, Event::BackupEval { gen });
        }
    }

    fn finish(mut self, now: SimTime) -> Observations {
        // Calls still in flight at the drain limit are unfinished: each counted exactly once.
        // Calls still talking were counted connected at answer; they and the unfinished ones still
        // get their per-call row.
        let (mut unfinished_measured, mut unfinished_all) = (0u64, 0u64);
        for idx in 0..self.calls.items.len() as u32 {
            if self.calls.is_live(idx) {
                let c = self.calls.get(idx);
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
                self.emit(now, idx, outcome);
            }
        }
        self.obs.counts.unfinished = unfinished_measured;
        self.obs.timeline.at(now, self.backup_on).unfinished += unfinished_all;
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
        self.obs
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

/// Applies `f` to the windows whose bit is set in `mask` (nothing, cheaply, when it is 0).
#[inline]
fn for_each_window(windows: &mut [WindowObs], mut mask: u32, mut f: impl FnMut(&mut WindowObs)) {
    while mask != 0 {
        let i = mask.trailing_zeros() as usize;
        f(&mut windows[i]);
        mask &= mask - 1;
    }
}
