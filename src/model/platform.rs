//! The platform a call or API request passes before (and besides) dialling: stages with
//! session limits or pods, service times and a dependency they call, per-tenant rate limits,
//! client timeouts and retries with backoff, dependency failover, fail-open/closed lookups that
//! can block accounts, pod memory leaks and crash-restart loops, and an autoscaler.
//!
//! Part of the model: the same `Event` enum and the same one owner of the state. A job holds a
//! session from start to finish whatever its client does (a client that times out and retries
//! adds load: retry storms), so jobs live in their own slab and report back to the call only if
//! the call is still on that attempt.

use super::calls::CallState;
use super::config::*;
use super::obs::StageCounts;
use super::slab::{CallId, Gen, JobId, Ref, SlotId};
use super::{Event, LegFailure, Model, Outcome};
use crate::dist::DurationDist;
use crate::engine::Reserved;
use crate::limiter::Limiter;
use crate::rng::{call_rng, component_seed, rng_from, CallDraw, CallRng, SimRng};
use crate::time::{SimDuration, SimTime};
use rand::Rng;
use std::collections::VecDeque;

/// Why an attempt failed at the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageFail {
    Refused,
    Error,
    Blocked,
    Timeout,
}

pub(super) struct Pod {
    up: bool,
    /// Scaled away: serves no new job.
    removed: bool,
    /// Rises at every crash and scale action, so stale PodUp events are dropped.
    epoch: Gen,
    in_flight: u32,
    memory_mb: f64,
    /// When `memory_mb` was last brought up to date (reclaim runs continuously).
    memory_at: SimTime,
    /// This pod's memory when it (re)started, the floor of reclaim: `base_memory_mb`, or drawn
    /// around it at every start when `base_memory_spread_mb` is set.
    base_mb: f64,
}

pub(super) struct StageState {
    pub(super) cfg: StageConfig,
    in_use: u64,
    /// Attempts waiting for a session: (call, attempt generation); stale entries dropped lazily.
    waiting: VecDeque<(Ref<CallId>, Gen)>,
    pods: Vec<Pod>,
    /// Kept with `pods` by `update_pod` (so no event scans the pods): pods serving (up and not
    /// removed), pods not removed, one bit per pod serving with room for another job, and the
    /// capacity those bits were computed with. `assert_platform_balance` checks them.
    pods_up: u64,
    pods_active: u32,
    room: Vec<u64>,
    capacity: u32,
    /// One limiter per tenant (index from `Model::tenant_of`).
    tenant_limiters: Vec<Limiter>,
    above_since: Option<SimTime>,
    last_scale: Option<SimTime>,
    /// Round-robin cursor over pods.
    rr: usize,
    /// What this stage does to each source's requests (index: source), worked out from the
    /// stage's table and the source's method when either changes, so no job compares method
    /// names.
    terms: Vec<SourceTerms>,
    /// Draws each pod's memory at its (re)starts (`base_memory_spread_mb`).
    pod_rng: SimRng,
}

/// How a stage treats one source's requests: whether its tenant limiter applies (the stage has
/// one and the method does not bypass it), and the memory each job of the method leaks on a pod.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SourceTerms {
    limited: bool,
    leak_mb: f64,
}

impl SourceTerms {
    fn of(stage: &StageConfig, client: &ClientConfig) -> SourceTerms {
        SourceTerms {
            limited: stage
                .tenant_limit
                .as_ref()
                .is_some_and(|t| !t.bypass_methods.contains(&client.method)),
            leak_mb: stage
                .pods
                .as_ref()
                .and_then(|p| p.leak_mb.iter().find(|(m, _)| *m == client.method))
                .map_or(0.0, |(_, mb)| *mb),
        }
    }
}

impl StageState {
    /// Attempts waiting for a session (stale entries included until they reach the head).
    pub(super) fn waiting_len(&self) -> usize {
        self.waiting.len()
    }
}

pub(super) struct DepState {
    cfg: DependencyConfig,
    /// The primary at the start: where clients that do not follow a failover stay.
    initial_primary: usize,
    failing_since: Option<SimTime>,
    rng: SimRng,
    /// With `connections`: lookups running, and lookups waiting for a connection (job, seed of
    /// its draws; jobs killed meanwhile are dropped when they reach the front).
    in_use: u32,
    waiting: VecDeque<(Ref<JobId>, u64)>,
    /// Per node: in an episode now, and the generation of its episode timer (bumped when a
    /// change replaces the node's `episodes`, so the old timer is dropped).
    in_episode: Vec<bool>,
    episode_gen: Vec<Gen>,
    /// The episodes' own stream ("dependency:NAME:episodes"): other draws do not move them.
    episode_rng: SimRng,
}

impl DepState {
    /// The node a stage reads: the primary, or the first primary if it does not follow a
    /// failover.
    fn node_for(&self, dep: &StageDependency) -> usize {
        if dep.follows_failover {
            self.cfg.primary
        } else {
            self.initial_primary
        }
    }

    /// A node's lookup latency now: its episode latency during an episode.
    fn latency(&self, node: usize) -> &DurationDist {
        let n = &self.cfg.nodes[node];
        match &n.episodes {
            Some(e) if self.in_episode[node] => &e.latency,
            _ => &n.latency,
        }
    }
}

/// A pod's memory at a (re)start: `base_memory_mb`, or uniform within
/// `base_memory_mb ± base_memory_spread_mb`, drawn from the stage's own pod stream (no draw when
/// the spread is 0, so runs without it are unchanged).
fn draw_base_mb(p: &PodsConfig, rng: &mut SimRng) -> f64 {
    if p.base_memory_spread_mb > 0.0 {
        let s = p.base_memory_spread_mb;
        p.base_memory_mb + rng.random_range(-s..=s)
    } else {
        p.base_memory_mb
    }
}

/// A job's lookup in its dependency: the node it reads (the current primary, or the start's
/// for a client that does not follow a failover), that node's latency, and whether the lookup
/// failed (at the node's error rate, its standby rate when it is not the primary; or, with the
/// stage's `timeout`, by being slower than that, when it ends at the timeout). Draws latency
/// then error from the attempt's stream, as before these keys (so runs without them are
/// unchanged).
fn lookup<R: Rng>(d: &DepState, dep: &StageDependency, rng: &mut R) -> (SimDuration, bool) {
    let node = d.node_for(dep);
    let n = &d.cfg.nodes[node];
    let latency = d.latency(node).sample(rng);
    let rate = match n.error_rate_standby {
        Some(r) if node != d.cfg.primary => r,
        _ => n.error_rate,
    };
    // The last draw of the job's stream: skipped when it cannot be an error (the same result).
    let error = rate > 0.0 && rng.random::<f64>() < rate;
    match dep.timeout {
        Some(t) if latency > t => (t, true),
        _ => (latency, error),
    }
}

/// A health probe of the primary fails: at its error rate, or, with the check's `timeout`, by
/// answering later than that (the latency is drawn only then, so checks without it draw as
/// before).
fn probe_fails(d: &mut DepState, h: &HealthCheck) -> bool {
    let p = &d.cfg.nodes[d.cfg.primary];
    d.rng.random::<f64>() < p.error_rate
        || h.timeout.is_some_and(|t| {
            let latency = match &p.episodes {
                Some(e) if d.in_episode[d.cfg.primary] => &e.latency,
                _ => &p.latency,
            };
            latency.sample(&mut d.rng) > t
        })
}

#[derive(Clone, Copy)]
pub(super) struct Job {
    stage: u32,
    call: Ref<CallId>,
    try_gen: Gen,
    pod: u32,
    error: bool,
    started: SimTime,
    measured: bool,
    /// With a dependency that has `connections`: the service time that follows the lookup.
    rest: SimDuration,
}

const NO_POD: u32 = u32::MAX;

impl Job {
    /// The entry of the jobs slab's never-live slot 0 (`JobId::NONE`).
    pub(super) fn placeholder() -> Job {
        Job {
            stage: 0,
            call: Ref::<CallId>::NONE,
            try_gen: Gen::FIRST,
            pod: NO_POD,
            error: false,
            started: SimTime::ZERO,
            measured: false,
            rest: SimDuration::ZERO,
        }
    }
}

/// A pod takes a new job: serving (up, not scaled away) and below its capacity.
#[inline]
fn has_room(p: &Pod, capacity: u32) -> bool {
    p.up && !p.removed && p.in_flight < capacity
}

impl StageState {
    fn new(cfg: &StageConfig, tenants: usize, start: SimTime, mut pod_rng: SimRng) -> StageState {
        let pods = match &cfg.pods {
            Some(p) => (0..p.count)
                .map(|_| {
                    let base_mb = draw_base_mb(p, &mut pod_rng);
                    Pod {
                        up: true,
                        removed: false,
                        epoch: Gen::FIRST,
                        in_flight: 0,
                        memory_mb: base_mb,
                        memory_at: start,
                        base_mb,
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        let tenant_limiters = match &cfg.tenant_limit {
            Some(t) => (0..tenants)
                .map(|_| Limiter::new(&t.limiter, start))
                .collect(),
            None => Vec::new(),
        };
        let mut st = StageState {
            cfg: cfg.clone(),
            in_use: 0,
            waiting: VecDeque::new(),
            pods,
            pods_up: 0,
            pods_active: 0,
            room: Vec::new(),
            capacity: 0,
            tenant_limiters,
            above_since: None,
            last_scale: None,
            rr: 0,
            terms: Vec::new(),
            pod_rng,
        };
        st.recount_pods();
        st
    }

    /// Recomputes the pod counts and room bits from the pods (at the start, and when the
    /// stage's table changes, which may change the capacity).
    fn recount_pods(&mut self) {
        self.capacity = self.cfg.pods.as_ref().map_or(0, |p| p.capacity);
        (self.pods_up, self.pods_active, self.room) = self.counted_pods();
    }

    /// Pods serving, pods not removed, and the room bits, counted over the pods.
    fn counted_pods(&self) -> (u64, u32, Vec<u64>) {
        let capacity = self.cfg.pods.as_ref().map_or(0, |p| p.capacity);
        let mut room = vec![0; self.pods.len().div_ceil(64)];
        for (i, p) in self.pods.iter().enumerate() {
            if has_room(p, capacity) {
                room[i / 64] |= 1u64 << (i % 64);
            }
        }
        (
            self.pods.iter().filter(|p| p.up && !p.removed).count() as u64,
            self.pods.iter().filter(|p| !p.removed).count() as u32,
            room,
        )
    }

    #[inline]
    fn set_room(&mut self, i: usize) {
        let bit = 1u64 << (i % 64);
        if has_room(&self.pods[i], self.capacity) {
            self.room[i / 64] |= bit;
        } else {
            self.room[i / 64] &= !bit;
        }
    }

    /// Changes pod `i` through `f`, keeping the counts and its room bit.
    #[inline]
    fn update_pod(&mut self, i: usize, f: impl FnOnce(&mut Pod)) {
        let p = &mut self.pods[i];
        let (was_up, was_active) = (p.up && !p.removed, !p.removed);
        f(p);
        let (up, active) = (p.up && !p.removed, !p.removed);
        self.pods_up = self.pods_up + u64::from(up) - u64::from(was_up);
        self.pods_active = self.pods_active + u32::from(active) - u32::from(was_active);
        self.set_room(i);
    }

    /// Adds a pod (starting: not up yet).
    fn push_pod(&mut self, pod: Pod) {
        self.pods.push(Pod { up: false, ..pod });
        self.pods_active += u32::from(!pod.removed);
        if self.room.len() * 64 < self.pods.len() {
            self.room.push(0);
        }
    }

    /// The first pod at or after `from` (then from 0) serving with room, by its room bit.
    #[inline]
    fn next_with_room(&self, from: usize) -> Option<usize> {
        let first_set = |start: usize| {
            let mut w = start / 64;
            let mut word = *self.room.get(w)? & (!0u64 << (start % 64));
            loop {
                if word != 0 {
                    return Some(w * 64 + word.trailing_zeros() as usize);
                }
                w += 1;
                word = *self.room.get(w)?;
            }
        };
        first_set(from).or_else(|| first_set(0))
    }

    /// A job of this stage ended (finished; a crash releases its jobs at once instead).
    #[inline]
    fn job_left(&mut self, pod: u32) {
        self.in_use = self
            .in_use
            .checked_sub(1)
            .expect("a stage released more sessions than it held");
        if pod != NO_POD {
            self.update_pod(pod as usize, |p| {
                p.in_flight = p
                    .in_flight
                    .checked_sub(1)
                    .expect("a pod finished more jobs than it ran");
            });
        }
    }

    #[inline]
    /// The sum over the pods up of their memory now (reclaim included) over the limit.
    fn memory_fill(&self, now: SimTime, p: &PodsConfig) -> f64 {
        let serving = self.pods.iter().filter(|q| q.up && !q.removed);
        serving
            .map(|q| {
                let reclaimed = p.reclaim_mb_per_s * now.since(q.memory_at).as_secs_f64();
                (q.memory_mb - reclaimed).max(q.base_mb) / p.memory_limit_mb
            })
            .sum()
    }

    fn pods_up(&self) -> u64 {
        self.pods_up
    }

    /// The pod a new job goes to: the next up pod with room after the last one used
    /// (round-robin, as load balancers spread requests), or None when all are full. Without
    /// pods: Some(NO_POD) while a session is free.
    fn free_slot(&mut self) -> Option<u32> {
        match &self.cfg.pods {
            Some(_) => {
                debug_assert_eq!(
                    self.capacity,
                    self.cfg.pods.as_ref().map_or(0, |p| p.capacity)
                );
                let i = self.next_with_room(self.rr)?;
                self.rr = (i + 1) % self.pods.len();
                Some(i as u32)
            }
            None => match self.cfg.sessions {
                Some(n) if self.in_use >= n => None,
                _ => Some(NO_POD),
            },
        }
    }
}

pub(super) fn build_stages(
    cfg: &ModelConfig,
    tenants: usize,
    master_seed: u64,
    replication: u64,
) -> Vec<StageState> {
    cfg.stages
        .iter()
        .map(|s| {
            let rng = rng_from(component_seed(
                master_seed,
                replication,
                &format!("stage:{}:pods", s.name),
            ));
            let mut st = StageState::new(s, tenants, cfg.start, rng);
            st.terms = cfg
                .sources
                .iter()
                .map(|src| SourceTerms::of(s, &src.behaviour.client))
                .collect();
            st
        })
        .collect()
}

pub(super) fn build_deps(cfg: &ModelConfig, master_seed: u64, replication: u64) -> Vec<DepState> {
    cfg.dependencies
        .iter()
        .map(|d| DepState {
            cfg: d.clone(),
            initial_primary: d.primary,
            failing_since: None,
            in_use: 0,
            waiting: VecDeque::new(),
            in_episode: vec![false; d.nodes.len()],
            episode_gen: vec![Gen::FIRST; d.nodes.len()],
            episode_rng: rng_from(component_seed(
                master_seed,
                replication,
                &format!("dependency:{}:episodes", d.name),
            )),
            rng: rng_from(component_seed(
                master_seed,
                replication,
                &format!("dependency:{}:health", d.name),
            )),
        })
        .collect()
}

impl Model<'_> {
    /// Works out again how every stage treats every source (after a stage's or a source's
    /// table changed).
    pub(super) fn refresh_source_terms(&mut self) {
        for st in &mut self.stages {
            st.terms = self
                .sources
                .iter()
                .map(|src| SourceTerms::of(&st.cfg, &src.behaviour.client))
                .collect();
        }
    }

    /// Schedules the platform's own recurring events (autoscalers, health checks).
    pub(super) fn init_platform(&mut self) {
        for (i, s) in self.stages.iter().enumerate() {
            if let Some(a) = &s.cfg.autoscaler {
                self.sched
                    .schedule_after(a.evaluate_every, Event::Autoscale { stage: i as u32 });
            }
        }
        for (i, d) in self.deps.iter().enumerate() {
            if let Some(h) = &d.cfg.health_check {
                self.sched
                    .schedule_after(h.every, Event::HealthCheck { dep: i as u32 });
            }
        }
        for i in 0..self.deps.len() {
            for node in 0..self.deps[i].cfg.nodes.len() {
                self.next_episode_edge(self.cfg.start, i, node);
            }
        }
        for i in 0..self.stages.len() {
            let pods = self.stages[i].pods_up();
            self.obs.stages[i].levels(self.cfg.start, 0, pods);
        }
    }

    /// A call or request enters the platform: its first attempt starts at the first stage.
    pub(super) fn begin_platform(&mut self, now: SimTime, call: Ref<CallId>) {
        self.calls.get_mut(call.id).in_platform = true;
        self.start_try(now, call);
    }

    fn start_try(&mut self, now: SimTime, call: Ref<CallId>) {
        let c = self.calls.get_mut(call.id);
        c.try_gen.bump();
        c.stage_pos = 0;
        let timeout = self.sources[c.source as usize].behaviour.client.timeout;
        // The client's timeout takes its place in the order of events now, but is scheduled
        // only if the attempt may still be in the platform when it comes due (`arm_timeout`):
        // most attempts end well before it, and their timeouts would be stale events.
        let deadline = timeout.map_or(Reserved::NONE, |t| self.sched.reserve(now.plus(t)));
        let slot = call.id.index();
        if slot >= self.deadlines.len() {
            self.deadlines.resize(slot + 1, Reserved::NONE);
        }
        self.deadlines[slot] = deadline;
        if cfg!(test) && self.eager_timeouts {
            let try_gen = self.calls.get(call.id).try_gen;
            self.arm_timeout(call, try_gen);
        }
        self.enter_stage(now, call);
    }

    /// Schedules the client's timeout of `call`'s current attempt in the place reserved for
    /// it, if it is not scheduled yet. Called wherever the attempt may still be in the
    /// platform when the timeout comes due: it waits (for a session or a connection), or its
    /// job ends at or after the deadline. An attempt that ends before its deadline never
    /// schedules it: the event it would have been is stale, so the order and outcome of every
    /// other event are as if it had been scheduled at once.
    ///
    /// A step of an attempt that has already ended (a lookup still running for a job whose
    /// attempt timed out) arms nothing.
    fn arm_timeout(&mut self, call: Ref<CallId>, try_gen: Gen) {
        if !self.attempt_current(call, try_gen) {
            return;
        }
        let Some(at) = self.pending_deadline(call.id) else {
            return;
        };
        self.deadlines[call.id.index()] = Reserved::NONE;
        self.sched
            .schedule_reserved(at, Event::ClientTimeout { call, try_gen });
    }

    /// Arms the client's timeout of `call` if the step of its attempt that ends at `end`
    /// does not end before the deadline (at the deadline, the timeout comes first: it took
    /// its place earlier).
    fn arm_timeout_if_past(&mut self, call: Ref<CallId>, try_gen: Gen, end: SimTime) {
        if self
            .pending_deadline(call.id)
            .is_some_and(|at| end >= at.time())
        {
            self.arm_timeout(call, try_gen);
        }
    }

    /// The reserved place of `call`'s client timeout, if its current attempt has one not yet
    /// scheduled.
    #[inline]
    fn pending_deadline(&self, call: CallId) -> Option<Reserved> {
        self.deadlines
            .get(call.index())
            .copied()
            .filter(|&at| at != Reserved::NONE)
    }

    fn stage_index(&self, call: CallId) -> usize {
        let c = self.calls.get(call);
        self.sources[c.source as usize].behaviour.client.stages[c.stage_pos as usize]
    }

    fn count_stage(
        &mut self,
        now: SimTime,
        stage: usize,
        measured: bool,
        f: impl Fn(&mut StageCounts),
    ) {
        self.obs.stages[stage].count(now, measured, f);
    }

    fn stage_levels(&mut self, now: SimTime, stage: usize) {
        let (in_use, pods) = (self.stages[stage].in_use, self.stages[stage].pods_up());
        self.obs.stages[stage].levels(now, in_use, pods);
    }

    fn enter_stage(&mut self, now: SimTime, call: Ref<CallId>) {
        let sidx = self.stage_index(call.id);
        let c = self.calls.get(call.id);
        let (source, account, measured, pos) = (
            c.source as usize,
            c.account as usize,
            c.measured,
            c.stage_pos,
        );
        if pos == 0 && self.blocked[source].get(account).copied().unwrap_or(false) {
            // Disabled accounts are rejected before any work (403 "out of call credit").
            self.fail_try(now, call, 403, StageFail::Blocked);
            return;
        }
        if !self.stages[sidx].cfg.in_path {
            self.beside_path(now, sidx, call);
            return;
        }
        let tenant = self.tenant_of[source];
        if self.stages[sidx].terms[source].limited {
            let st = &mut self.stages[sidx];
            let lim = &mut st.tenant_limiters[tenant];
            if lim.next_admit(now) > now {
                let code = st.cfg.tenant_limit.as_ref().expect("checked").code;
                self.count_stage(now, sidx, measured, |s| {
                    s.refused += 1;
                    s.rate_limited += 1;
                });
                self.fail_try(now, call, code, StageFail::Refused);
                return;
            }
            lim.admit(now);
        }
        if let Some(slot) = self.stages[sidx].free_slot() {
            self.start_job(now, sidx, call, slot);
            return;
        }
        match self.stages[sidx].cfg.over_limit {
            StageOverLimit::Refuse { code } => {
                self.count_stage(now, sidx, measured, |s| s.refused += 1);
                self.fail_try(now, call, code, StageFail::Refused);
            }
            StageOverLimit::Wait { timeout, .. } => {
                let try_gen = self.calls.get(call.id).try_gen;
                self.calls.get_mut(call.id).stage_queued = true;
                self.stages[sidx].waiting.push_back((call, try_gen));
                self.arm_timeout(call, try_gen);
                if let Some(t) = timeout {
                    self.timer(now, t, Event::StageWaitTimeout { call, try_gen });
                }
            }
        }
    }

    /// The stream of an attempt's draws at a stage (service, lookup): its own, so that common
    /// random numbers hold across variants.
    fn attempt_rng(&self, sidx: usize, call: Ref<CallId>) -> CallRng {
        let c = self.calls.get(call.id);
        call_rng(
            c.seed,
            CallDraw::Stage,
            (sidx as u64) << 16 | u64::from(c.tries),
        )
    }

    fn start_job(&mut self, now: SimTime, sidx: usize, call: Ref<CallId>, pod: u32) {
        let c = self.calls.get(call.id);
        let (source, try_gen, measured) = (c.source as usize, c.try_gen, c.measured);
        let method_leak = self.stages[sidx].terms[source].leak_mb;
        let mut rng = self.attempt_rng(sidx, call);
        let st = &self.stages[sidx];
        let service = st.cfg.service_time.sample(&mut rng);
        let mut duration = SimDuration::ZERO;
        let mut error = false;
        // With a connection pool the lookup is drawn when it starts (the node, its latency and
        // errors as they are then), from a seed drawn here, so it keeps common random numbers.
        let mut pooled = None;
        if let Some(dep) = &st.cfg.dependency {
            let d = &self.deps[dep.dependency];
            if d.cfg.connections.is_some() {
                pooled = Some((dep.dependency, rng.random::<u64>()));
            } else {
                (duration, error) = lookup(d, dep, &mut rng);
            }
        }
        let st = &mut self.stages[sidx];
        st.in_use += 1;
        let mut crash = false;
        let mut slowdown = 1.0;
        if pod != NO_POD {
            let pc = st.cfg.pods.as_ref().expect("pods");
            let (limit, reclaim, at_limit) = (
                pc.memory_limit_mb,
                pc.reclaim_mb_per_s,
                pc.slowdown_at_limit,
            );
            st.update_pod(pod as usize, |p| {
                p.in_flight += 1;
                let reclaimed = reclaim * now.since(p.memory_at).as_secs_f64();
                p.memory_mb = (p.memory_mb - reclaimed).max(p.base_mb) + method_leak;
                p.memory_at = now;
                crash = p.memory_mb > limit;
                if at_limit > 1.0 {
                    let fill = ((p.memory_mb - p.base_mb) / (limit - p.base_mb)).clamp(0.0, 1.0);
                    slowdown = 1.0 + (at_limit - 1.0) * fill;
                }
            });
        }
        // A pod short of memory serves slower (garbage collection), in proportion to how full
        // it is: `slowdown_at_limit` at the limit. The dependency's latency is not slowed.
        let service = if slowdown > 1.0 {
            SimDuration((service.as_ns() as f64 * slowdown).round() as u64)
        } else {
            service
        };
        let job = self.jobs.insert(Job {
            stage: sidx as u32,
            call,
            try_gen,
            pod,
            error,
            started: now,
            measured,
            rest: service,
        });
        if let Some((didx, seed)) = pooled {
            self.request_lookup(now, didx, job, seed);
        } else {
            let done = now.plus(service.plus_dur(duration));
            self.arm_timeout_if_past(call, try_gen, done);
            self.sched.schedule(done, Event::JobDone { job });
        }
        self.count_stage(now, sidx, measured, |s| s.jobs += 1);
        self.stage_levels(now, sidx);
        if crash {
            self.crash_pod(now, sidx, pod);
        }
    }

    /// A job finished: its session (or pod slot) is free, and its result goes to its call.
    /// False if stale: the job was killed by a pod crash.
    pub(super) fn job_done(&mut self, now: SimTime, job: Ref<JobId>) -> bool {
        let Some(&j) = self.jobs.get_live(job) else {
            return false;
        };
        self.jobs.remove(job.id);
        let sidx = j.stage as usize;
        self.stages[sidx].job_left(j.pod);
        self.obs.stages[sidx].latency(now, j.measured, now.since(j.started));
        self.stage_levels(now, sidx);
        self.deliver(now, j);
        self.drain_stage(now, sidx);
        true
    }

    /// Hands a finished job's result to its call, if the call is still on that attempt.
    fn deliver(&mut self, now: SimTime, j: Job) {
        if !self.attempt_current(j.call, j.try_gen) {
            return;
        }
        debug_assert!(
            self.pending_deadline(j.call.id)
                .is_none_or(|at| now < at.time()),
            "a job ended after its attempt's client timeout, which was never scheduled"
        );
        let sidx = j.stage as usize;
        if self.stage_index(j.call.id) != sidx {
            // Not expected (an attempt has one job at a time); should it happen, the attempt
            // goes on waiting, and its client's timeout must be there to end it.
            self.arm_timeout(j.call, j.try_gen);
            return;
        }
        if !j.error {
            self.advance_stage(now, j.call);
            return;
        }
        let measured = self.calls.get(j.call.id).measured;
        self.count_stage(now, sidx, measured, |s| s.errors += 1);
        let cfg = &self.stages[sidx].cfg;
        let policy = cfg
            .dependency
            .as_ref()
            .map(|d| d.on_error)
            .unwrap_or(LookupPolicy::FailClosed);
        let code = cfg.error_code;
        match policy {
            LookupPolicy::FailOpen => self.advance_stage(now, j.call),
            LookupPolicy::FailClosed => self.fail_try(now, j.call, code, StageFail::Error),
            LookupPolicy::DisableAccount => {
                let c = self.calls.get(j.call.id);
                let (source, account) = (c.source as usize, c.account as usize);
                if !self.blocked[source][account] {
                    self.blocked[source][account] = true;
                    self.blocked_count += 1;
                    self.count_stage(now, sidx, measured, |s| s.accounts_blocked += 1);
                    self.accounts_level(now);
                }
                self.fail_try(now, j.call, 403, StageFail::Blocked);
            }
        }
    }

    /// An out-of-band stage (`in_path = false`): the attempt moves on at once, and the stage's
    /// job runs beside it, drawn from the same stream as an in-path job. It holds nothing (such
    /// a stage has no sessions, pods or limiter); if its lookup fails, the stage's `on_error`
    /// applies to the call's account when the job ends (`side_lookup_failed`).
    fn beside_path(&mut self, now: SimTime, sidx: usize, call: Ref<CallId>) {
        let c = self.calls.get(call.id);
        let (source, account, measured) = (c.source, c.account, c.measured);
        let mut rng = self.attempt_rng(sidx, call);
        let st = &self.stages[sidx];
        let service = st.cfg.service_time.sample(&mut rng);
        let (latency, error) = match &st.cfg.dependency {
            Some(dep) => lookup(&self.deps[dep.dependency], dep, &mut rng),
            None => (SimDuration::ZERO, false),
        };
        let duration = service.plus_dur(latency);
        self.count_stage(now, sidx, measured, |s| s.jobs += 1);
        self.obs.stages[sidx].latency(now, measured, duration);
        if error {
            let stage = u16::try_from(sidx).expect("fewer than 65,536 stages");
            let ev = Event::SideLookupFailed {
                stage,
                measured,
                source,
                account,
            };
            self.sched.schedule(now.plus(duration), ev);
        }
        self.advance_stage(now, call);
    }

    /// An out-of-band job's lookup failed: counted in the stage's `errors`; under
    /// `disable_account` the account is blocked for its later calls (the call that set the job
    /// off has moved on). `fail_open` and `fail_closed` have nothing to fail.
    pub(super) fn side_lookup_failed(
        &mut self,
        now: SimTime,
        sidx: usize,
        measured: bool,
        source: u32,
        account: u32,
    ) {
        self.count_stage(now, sidx, measured, |s| s.errors += 1);
        let policy = self.stages[sidx]
            .cfg
            .dependency
            .as_ref()
            .map(|d| d.on_error);
        if policy == Some(LookupPolicy::DisableAccount) {
            let (source, account) = (source as usize, account as usize);
            if !self.blocked[source][account] {
                self.blocked[source][account] = true;
                self.blocked_count += 1;
                self.count_stage(now, sidx, measured, |s| s.accounts_blocked += 1);
                self.accounts_level(now);
            }
        }
    }

    /// Whether `call` is live and still on attempt `try_gen` in the platform: the results,
    /// timeouts and retries of other attempts are stale.
    #[inline]
    fn attempt_current(&self, call: Ref<CallId>, try_gen: Gen) -> bool {
        self.calls
            .get_live(call)
            .is_some_and(|c| c.try_gen == try_gen && c.state == CallState::Waiting && c.in_platform)
    }

    fn advance_stage(&mut self, now: SimTime, call: Ref<CallId>) {
        let c = self.calls.get_mut(call.id);
        c.stage_pos = c
            .stage_pos
            .checked_add(1)
            .expect("fewer than 65,536 stages");
        let n = self.sources[c.source as usize]
            .behaviour
            .client
            .stages
            .len() as u32;
        if u32::from(c.stage_pos) < n {
            self.enter_stage(now, call);
            return;
        }
        c.in_platform = false;
        c.try_gen.bump(); // the client's timeout no longer applies
        if self.sources[c.source as usize].behaviour.client.kind == SourceKind::Request {
            c.state = CallState::Done;
            c.answered_at = now;
            self.tally(now, call.id, |x| x.served += 1);
            self.emit(now, call.id, Outcome::Served);
            self.free_call(call.id);
        } else {
            self.begin_dialling(now, call.id);
        }
    }

    /// An attempt failed: retry after a backoff if the client has retries left, else the call
    /// or request fails with `code`.
    fn fail_try(&mut self, now: SimTime, call: Ref<CallId>, code: u16, why: StageFail) {
        let c = self.calls.get_mut(call.id);
        c.stage_queued = false;
        let client = &self.sources[c.source as usize].behaviour.client;
        if u32::from(c.tries) < client.retry.retries {
            c.tries += 1;
            c.try_gen.bump();
            let (tries, try_gen, seed) = (c.tries, c.try_gen, c.seed);
            let wait = client.retry.wait(
                u32::from(tries),
                &mut call_rng(seed, CallDraw::Backoff, u64::from(tries)),
            );
            let fixed = client.retry.fixed();
            self.tally(now, call.id, |x| x.retries += 1);
            if fixed {
                // The same wait for every call's k-th retry: a fixed-delay timer queue.
                self.timer(now, wait, Event::Retry { call, try_gen });
            } else {
                self.sched
                    .schedule(now.plus(wait), Event::Retry { call, try_gen });
            }
            return;
        }
        c.in_platform = false;
        c.state = CallState::Done;
        c.last_failure = Some(LegFailure::Stage { code, why });
        self.conclude(now, call.id, Outcome::Failed);
    }

    /// The backoff after a failed attempt ended: the next attempt starts. False if stale.
    pub(super) fn retry(&mut self, now: SimTime, call: Ref<CallId>, try_gen: Gen) -> bool {
        let fresh = self.attempt_current(call, try_gen);
        if fresh {
            self.start_try(now, call);
        }
        fresh
    }

    /// The client gave up on the attempt (504). False if stale.
    pub(super) fn client_timeout(&mut self, now: SimTime, call: Ref<CallId>, try_gen: Gen) -> bool {
        let fresh = self.attempt_current(call, try_gen);
        if fresh {
            self.fail_try(now, call, 504, StageFail::Timeout);
        }
        fresh
    }

    /// The attempt waited for a session as long as the stage allows. False if stale.
    pub(super) fn stage_wait_timeout(
        &mut self,
        now: SimTime,
        call: Ref<CallId>,
        try_gen: Gen,
    ) -> bool {
        let fresh = self.attempt_current(call, try_gen) && self.calls.get(call.id).stage_queued;
        if fresh {
            let sidx = self.stage_index(call.id);
            let measured = self.calls.get(call.id).measured;
            self.count_stage(now, sidx, measured, |s| s.refused += 1);
            let code = match self.stages[sidx].cfg.over_limit {
                StageOverLimit::Wait { code, .. } | StageOverLimit::Refuse { code } => code,
            };
            self.fail_try(now, call, code, StageFail::Refused);
        }
        fresh
    }

    /// Starts waiting attempts while the stage has room.
    /// A job asks its pooled dependency for a lookup: it starts if a connection is free, or
    /// waits in the dependency's FIFO (the job, and so its session, held meanwhile).
    fn request_lookup(&mut self, now: SimTime, didx: usize, job: Ref<JobId>, seed: u64) {
        let d = &mut self.deps[didx];
        if d.cfg.connections.is_none_or(|c| d.in_use < c) {
            d.in_use += 1;
            self.start_lookup(now, didx, job, seed);
        } else {
            d.waiting.push_back((job, seed));
            let j = self.jobs.get(job.id);
            let (call, try_gen) = (j.call, j.try_gen);
            self.arm_timeout(call, try_gen);
        }
    }

    /// Runs a lookup on a connection already taken: the node, latency and error as they are
    /// now, drawn from the job's lookup seed.
    fn start_lookup(&mut self, now: SimTime, didx: usize, job: Ref<JobId>, seed: u64) {
        let mut rng = rng_from(seed);
        let sidx = self.jobs.get(job.id).stage as usize;
        let dep = self.stages[sidx]
            .cfg
            .dependency
            .as_ref()
            .expect("a dependency");
        let (latency, error) = lookup(&self.deps[didx], dep, &mut rng);
        let j = self.jobs.get_mut(job.id);
        j.error = error;
        let (call, try_gen, rest) = (j.call, j.try_gen, j.rest);
        self.arm_timeout_if_past(call, try_gen, now.plus(latency.plus_dur(rest)));
        self.sched.schedule(
            now.plus(latency),
            Event::LookupDone {
                dep: didx as u32,
                job,
            },
        );
    }

    /// A pooled lookup finished: its connection goes to the next live waiting lookup, and its
    /// job (unless a pod crash killed it) goes on to its service time.
    pub(super) fn lookup_done(&mut self, now: SimTime, didx: usize, job: Ref<JobId>) -> bool {
        // Never stale: the connection is freed even if the job was killed.
        self.deps[didx].in_use -= 1;
        self.drain_lookups(now, didx);
        let Some(j) = self.jobs.get_live(job) else {
            return true;
        };
        let rest = j.rest;
        self.sched.schedule(now.plus(rest), Event::JobDone { job });
        true
    }

    /// Starts waiting lookups while connections are free (dropping those of killed jobs).
    fn drain_lookups(&mut self, now: SimTime, didx: usize) {
        loop {
            let d = &mut self.deps[didx];
            if d.cfg.connections.is_some_and(|c| d.in_use >= c) {
                return;
            }
            let Some((job, seed)) = d.waiting.pop_front() else {
                return;
            };
            if self.jobs.get_live(job).is_some() {
                self.deps[didx].in_use += 1;
                self.start_lookup(now, didx, job, seed);
            }
        }
    }

    fn drain_stage(&mut self, now: SimTime, sidx: usize) {
        while let Some(&(call, try_gen)) = self.stages[sidx].waiting.front() {
            let live = self.attempt_current(call, try_gen) && self.calls.get(call.id).stage_queued;
            if !live {
                self.stages[sidx].waiting.pop_front();
                continue;
            }
            let Some(slot) = self.stages[sidx].free_slot() else {
                return;
            };
            self.stages[sidx].waiting.pop_front();
            self.calls.get_mut(call.id).stage_queued = false;
            self.start_job(now, sidx, call, slot);
        }
    }

    /// A pod ran out of memory: every job on it fails at once, and it restarts after a delay.
    fn crash_pod(&mut self, now: SimTime, sidx: usize, pod: u32) {
        let st = &mut self.stages[sidx];
        let (mut epoch, mut held) = (Gen::FIRST, 0);
        st.update_pod(pod as usize, |p| {
            p.up = false;
            p.epoch.bump();
            epoch = p.epoch;
            held = p.in_flight;
            p.in_flight = 0;
        });
        st.in_use = st
            .in_use
            .checked_sub(u64::from(held))
            .expect("a crashed pod held more jobs than its stage");
        let restart = st.cfg.pods.as_ref().expect("pods").restart_time;
        self.sched.schedule(
            now.plus(restart),
            Event::PodUp {
                stage: sidx as u32,
                pod,
                epoch,
            },
        );
        let killed: Vec<JobId> = self
            .jobs
            .iter_live()
            .filter(|(_, j)| j.stage == sidx as u32 && j.pod == pod)
            .map(|(id, _)| id)
            .collect();
        self.count_stage(now, sidx, true, |s| s.pod_crashes += 1);
        self.stage_levels(now, sidx);
        let code = self.stages[sidx].cfg.error_code;
        for i in killed {
            let j = *self.jobs.get(i);
            self.jobs.remove(i);
            if self.attempt_current(j.call, j.try_gen) && self.stage_index(j.call.id) == sidx {
                self.count_stage(now, sidx, j.measured, |s| s.errors += 1);
                self.fail_try(now, j.call, code, StageFail::Error);
            }
        }
    }

    /// A pod (re)started. False if stale: it crashed again or was scaled away since.
    pub(super) fn pod_up(&mut self, now: SimTime, sidx: usize, pod: u32, epoch: Gen) -> bool {
        let st = &mut self.stages[sidx];
        let p = &st.pods[pod as usize];
        if p.epoch != epoch || p.removed {
            return false;
        }
        let base = match &st.cfg.pods {
            Some(pc) => draw_base_mb(pc, &mut st.pod_rng),
            None => 0.0,
        };
        st.update_pod(pod as usize, |p| {
            p.up = true;
            p.memory_mb = base;
            p.base_mb = base;
            p.memory_at = now;
        });
        self.stage_levels(now, sidx);
        self.drain_stage(now, sidx);
        true
    }

    /// Adds pods (ready after the start time) or removes idle ones until `want` are wanted.
    fn scale_to(&mut self, now: SimTime, sidx: usize, want: u32) {
        let st = &mut self.stages[sidx];
        let Some(pcfg) = st.cfg.pods.clone() else {
            return;
        };
        let active = st.pods_active;
        if want > active {
            for _ in active..want {
                // Its memory is set when it comes up (`pod_up`).
                st.push_pod(Pod {
                    up: false,
                    removed: false,
                    epoch: Gen::FIRST,
                    in_flight: 0,
                    memory_mb: pcfg.base_memory_mb,
                    memory_at: now,
                    base_mb: pcfg.base_memory_mb,
                });
                let pod = (st.pods.len() - 1) as u32;
                self.sched.schedule(
                    now.plus(pcfg.start_time),
                    Event::PodUp {
                        stage: sidx as u32,
                        pod,
                        epoch: Gen::FIRST,
                    },
                );
            }
            let added = u64::from(want - active);
            self.count_stage(now, sidx, true, |s| s.pods_added += added);
        } else {
            // Remove idle pods first (newest first), then busy ones (their jobs finish).
            let mut excess = active - want;
            for pass in 0..2 {
                for i in (0..st.pods.len()).rev() {
                    if excess == 0 {
                        break;
                    }
                    let p = &st.pods[i];
                    if !p.removed && (pass == 1 || p.in_flight == 0) {
                        st.update_pod(i, |p| {
                            p.removed = true;
                            p.up = false;
                            p.epoch.bump();
                        });
                        excess -= 1;
                    }
                }
            }
        }
        self.stage_levels(now, sidx);
    }

    pub(super) fn autoscale(&mut self, now: SimTime, sidx: usize) {
        let st = &self.stages[sidx];
        let (Some(a), Some(p)) = (st.cfg.autoscaler.clone(), st.cfg.pods.clone()) else {
            return;
        };
        let active = st.pods_active;
        let up = st.pods_up();
        let util = if up == 0 {
            f64::INFINITY
        } else if a.metric == ScaleMetric::Memory {
            st.memory_fill(now, &p) / up as f64
        } else {
            st.in_use as f64 / (up as f64 * f64::from(p.capacity))
        };
        let cooled = st.last_scale.is_none_or(|t| now.since(t) >= a.cooldown);
        let mut scale = None;
        if active < a.min {
            // The floor was raised (a manual rescale of the autoscaler): meet it now.
            scale = Some(a.min);
        } else if util > a.target_utilization {
            let since = *self.stages[sidx].above_since.get_or_insert(now);
            if now.since(since) >= a.stabilization && cooled && active < a.max {
                let want = if util.is_finite() {
                    (f64::from(active) * util / a.target_utilization).ceil() as u32
                } else {
                    active * 2
                };
                scale = Some(want.max(active + 1).clamp(a.min, a.max));
            }
        } else {
            self.stages[sidx].above_since = None;
            if util < a.target_utilization / 2.0 && cooled && active > a.min {
                let want = (f64::from(active) * util / a.target_utilization).ceil() as u32;
                scale = Some(want.clamp(a.min, a.max));
            }
        }
        if let Some(want) = scale {
            if want != active {
                self.scale_to(now, sidx, want);
                let st = &mut self.stages[sidx];
                st.last_scale = Some(now);
                st.above_since = None;
            }
        }
        let next = now.plus(a.evaluate_every);
        if next < self.cfg.end {
            self.timer(
                now,
                a.evaluate_every,
                Event::Autoscale { stage: sidx as u32 },
            );
        }
    }

    pub(super) fn health_check(&mut self, now: SimTime, didx: usize) {
        let d = &mut self.deps[didx];
        let Some(h) = d.cfg.health_check.clone() else {
            return;
        };
        if probe_fails(d, &h) {
            let since = *d.failing_since.get_or_insert(now);
            if now.since(since) >= h.fail_after {
                d.cfg.primary = (d.cfg.primary + 1) % d.cfg.nodes.len();
                d.failing_since = None;
                self.note_failover(now, didx);
            }
        } else {
            d.failing_since = None;
        }
        let next = now.plus(h.every);
        if next < self.cfg.end {
            self.timer(now, h.every, Event::HealthCheck { dep: didx as u32 });
        }
    }

    /// Schedules a node's next episode edge: the end of the episode it is in, or the start of
    /// the next one (none with no `episodes`, or past the end of the run).
    fn next_episode_edge(&mut self, now: SimTime, didx: usize, node: usize) {
        let d = &mut self.deps[didx];
        let Some(e) = &d.cfg.nodes[node].episodes else {
            return;
        };
        let wait = if d.in_episode[node] {
            e.length.sample(&mut d.episode_rng)
        } else {
            e.gap.sample(&mut d.episode_rng)
        };
        let at = now.plus(wait);
        if at < self.cfg.end {
            let gen = d.episode_gen[node];
            self.sched.schedule(
                at,
                Event::Episode {
                    dep: didx as u32,
                    node: node as u32,
                    gen,
                },
            );
        }
    }

    /// A node's episode begins or ends. False if stale (its `episodes` were changed since).
    pub(super) fn episode_edge(
        &mut self,
        now: SimTime,
        didx: usize,
        node: usize,
        gen: Gen,
    ) -> bool {
        let d = &mut self.deps[didx];
        if d.episode_gen[node] != gen {
            return false;
        }
        d.in_episode[node] = !d.in_episode[node];
        self.next_episode_edge(now, didx, node);
        true
    }

    fn note_failover(&mut self, now: SimTime, didx: usize) {
        self.obs.failovers += 1;
        let stages: Vec<usize> = (0..self.stages.len())
            .filter(|&i| {
                self.stages[i]
                    .cfg
                    .dependency
                    .as_ref()
                    .is_some_and(|d| d.dependency == didx)
            })
            .collect();
        for s in stages {
            self.count_stage(now, s, true, |c| c.failovers += 1);
        }
    }

    fn accounts_level(&mut self, now: SimTime) {
        self.obs.accounts_blocked_max = self.obs.accounts_blocked_max.max(self.blocked_count);
        if self.obs.timeline.on {
            self.obs.timeline.at(now, self.backup_on);
            self.obs.timeline.set_accounts_blocked(self.blocked_count);
        }
    }

    /// A stage's table changes (scheduled): limiters, pods (a manual rescale) and autoscaler
    /// take the new values; waiting attempts start if the stage now has room.
    pub(super) fn change_stage(&mut self, now: SimTime, i: usize, cfg: &StageConfig) {
        let want = cfg.pods.as_ref().map(|p| p.count);
        let tenants = self.tenant_of.iter().max().map_or(0, |m| m + 1);
        if let (Some(a), None) = (&cfg.autoscaler, &self.stages[i].cfg.autoscaler) {
            // An autoscaler added mid-run starts its evaluations now.
            self.timer(now, a.evaluate_every, Event::Autoscale { stage: i as u32 });
        }
        let st = &mut self.stages[i];
        match (&cfg.tenant_limit, &st.cfg.tenant_limit) {
            (Some(new), Some(old)) if new.limiter != old.limiter => {
                for l in &mut st.tenant_limiters {
                    l.reconfigure(&new.limiter, now);
                }
            }
            // A limiter added mid-run starts full for every tenant.
            (Some(new), None) => {
                st.tenant_limiters = (0..tenants)
                    .map(|_| Limiter::new(&new.limiter, now))
                    .collect();
            }
            _ => {}
        }
        let manual_rescale =
            cfg.pods.as_ref().map(|p| p.count) != st.cfg.pods.as_ref().map(|p| p.count);
        st.cfg = cfg.clone();
        st.recount_pods();
        self.refresh_source_terms();
        if let (true, Some(w)) = (manual_rescale, want) {
            self.scale_to(now, i, w);
        }
        self.drain_stage(now, i);
    }

    /// A dependency's table changes (scheduled); `primary_set`: the change names the primary
    /// (a scheduled failover), otherwise the primary in force stays.
    pub(super) fn change_dependency(
        &mut self,
        now: SimTime,
        i: usize,
        cfg: &DependencyConfig,
        primary_set: bool,
    ) {
        if let (Some(h), None) = (&cfg.health_check, &self.deps[i].cfg.health_check) {
            // Health checks added mid-run start now.
            self.timer(now, h.every, Event::HealthCheck { dep: i as u32 });
        }
        let d = &mut self.deps[i];
        let primary = if primary_set {
            cfg.primary
        } else {
            d.cfg.primary
        };
        let failover = d.cfg.primary != primary;
        // A node whose `episodes` change leaves any episode now and starts the new process
        // afresh (the old timer goes stale).
        let renewed: Vec<usize> = (0..cfg.nodes.len())
            .filter(|&n| d.cfg.nodes.get(n).map(|o| &o.episodes) != Some(&cfg.nodes[n].episodes))
            .collect();
        d.cfg = cfg.clone();
        d.in_episode.resize(cfg.nodes.len(), false);
        d.episode_gen.resize(cfg.nodes.len(), Gen::FIRST);
        for &n in &renewed {
            d.in_episode[n] = false;
            d.episode_gen[n].bump();
        }
        d.cfg.primary = primary;
        d.failing_since = None;
        if failover {
            self.note_failover(now, i);
        }
        // More connections (or none set any more): waiting lookups start now.
        self.drain_lookups(now, i);
        for n in renewed {
            self.next_episode_edge(now, i, n);
        }
    }

    /// Unblocks every blocked account (a scheduled manual reset).
    pub(super) fn reset_accounts(&mut self, now: SimTime) {
        for b in &mut self.blocked {
            b.iter_mut().for_each(|x| *x = false);
        }
        self.blocked_count = 0;
        self.accounts_level(now);
    }

    /// At the end of a run: every stage's sessions in use are its live jobs, every pod's jobs
    /// in flight are the live jobs on it, and the blocked-account count is the blocked
    /// accounts. Once per run, over live jobs only.
    pub(super) fn assert_platform_balance(&self) {
        let mut jobs_of_stage = vec![0u64; self.stages.len()];
        let mut jobs_of_pod: Vec<Vec<u32>> =
            self.stages.iter().map(|s| vec![0; s.pods.len()]).collect();
        for (_, j) in self.jobs.iter_live() {
            jobs_of_stage[j.stage as usize] += 1;
            if j.pod != NO_POD {
                jobs_of_pod[j.stage as usize][j.pod as usize] += 1;
            }
        }
        for (i, st) in self.stages.iter().enumerate() {
            assert_eq!(
                st.in_use, jobs_of_stage[i],
                "stage balance: sessions in use equal the stage's live jobs"
            );
            assert_eq!(
                (st.pods_up, st.pods_active, st.room.clone()),
                st.counted_pods(),
                "pod counts: the kept pods-up, active and room bits equal a recount"
            );
            for (p, n) in st.pods.iter().zip(&jobs_of_pod[i]) {
                assert_eq!(
                    p.in_flight, *n,
                    "pod balance: jobs in flight equal the pod's live jobs"
                );
            }
        }
        // A connection in use is a lookup running: one pending `LookupDone` each (never
        // stale, so even a killed job's lookup still holds its connection until it ends).
        let mut lookups_of_dep = vec![0u64; self.deps.len()];
        for e in self.sched.pending_events() {
            if let Event::LookupDone { dep, .. } = e {
                lookups_of_dep[*dep as usize] += 1;
            }
        }
        for (d, n) in self.deps.iter().zip(&lookups_of_dep) {
            assert_eq!(
                u64::from(d.in_use),
                *n,
                "connection balance: connections in use equal the dependency's running lookups"
            );
        }
        let blocked = self.blocked.iter().flatten().filter(|b| **b).count() as u64;
        assert_eq!(
            self.blocked_count, blocked,
            "blocked-account count equals the blocked accounts"
        );
    }
}

trait PlusDur {
    fn plus_dur(self, d: SimDuration) -> SimDuration;
}

impl PlusDur for SimDuration {
    fn plus_dur(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}
