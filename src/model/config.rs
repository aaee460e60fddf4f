//! Validated model configuration: what the scenario layer produces and the world runs on.
//! Only valid values reach these types (rates >= 0, probabilities in [0, 1], at least one
//! destination, indices that resolve); the model never sees raw input.

use crate::dist::{CountDist, DurationDist, RateProfile};
use crate::limiter::LimiterSpec;
use crate::time::{SimDuration, SimTime};
use std::path::PathBuf;

/// Largest simulcall fan-out (Twilio and SignalWire allow up to 10 numbers per `<Dial>`).
pub const MAX_LEGS: usize = 10;

#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// First instant of the run; arrivals before it are not generated.
    pub start: SimTime,
    /// Arrivals stop here; calls in flight then drain.
    pub end: SimTime,
    /// How long after `end` in-flight calls may run before the run stops (they count as
    /// unfinished).
    pub drain: SimDuration,
    /// Calls arriving before start + warmup run normally but are left out of the summary
    /// statistics (the timeline still shows them): a discarded warm-up for steady-state work.
    pub warmup: SimDuration,
    /// Stop generating first attempts after this many (all sources together).
    pub max_calls: Option<u64>,
    /// Width of a timeline row.
    pub interval: SimDuration,
    pub sources: Vec<SourceConfig>,
    pub carriers: Vec<CarrierConfig>,
    pub backup: BackupConfig,
    /// Platform stages and the dependencies they call (empty for a carrier-only scenario).
    pub stages: Vec<StageConfig>,
    pub dependencies: Vec<DependencyConfig>,
    /// Scheduled changes, sorted by time (stable: same-time changes apply in file order).
    pub changes: Vec<Change>,
    /// Named clock windows (`[windows]`, `--window`): every call metric is also reported for
    /// the calls arriving in each. At most `MAX_WINDOWS`.
    pub windows: Vec<Window>,
    /// Alert rules (`[[alerts]]`), evaluated on the timeline as each interval closes.
    pub alerts: Vec<crate::alerts::AlertRule>,
}

/// Most named windows a scenario may have (a call carries one bit per window).
pub const MAX_WINDOWS: usize = 32;

/// A named clock window [start, end) of arrivals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub name: String,
    pub start: SimTime,
    pub end: SimTime,
}

impl Window {
    #[inline]
    pub fn contains(&self, t: SimTime) -> bool {
        self.start <= t && t < self.end
    }
}

#[derive(Clone, Debug)]
pub struct SourceConfig {
    pub name: String,
    pub arrivals: ArrivalSpec,
    pub behaviour: SourceBehaviour,
}

#[derive(Clone, Debug)]
pub enum ArrivalSpec {
    /// Poisson arrivals with a piecewise-linear rate profile (calls/s), scaled by `rate_scale`.
    Profile(RateProfile),
    /// Arrival instants replayed from a CSV file (opened by the run layer, not the model).
    Trace(TraceSpec),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TraceSpec {
    pub path: PathBuf,
    pub column: String,
    /// Rows in the trace file (counted when it was validated).
    pub rows: u64,
}

/// Everything about a source that a scheduled change may replace mid-run.
#[derive(Clone, Debug)]
pub struct SourceBehaviour {
    pub carrier: usize,
    pub rate_scale: f64,
    /// Platform processing before dialling (call tracking adds a hop); skipped in backup routing.
    pub setup_delay: DurationDist,
    /// None: callers never hang up before an answer.
    pub patience: Option<DurationDist>,
    pub flow: FlowConfig,
    pub talk_time: DurationDist,
    pub redial: Option<RedialConfig>,
    /// Tenant, method, accounts, stages, client timeout and retries.
    pub client: ClientConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowMode {
    /// Ring all legs at once; the first answer wins and the others are cancelled.
    Simulcall,
    /// Ring destinations one after another (hunt group) until one answers.
    Sequential,
}

#[derive(Clone, Debug)]
pub struct FlowConfig {
    pub mode: FlowMode,
    /// Legs per call (clamped to 1..=MAX_LEGS by validation).
    pub legs: CountDist,
    /// Leg i rings destination min(i, len - 1); destination 0 is the primary, the one backup
    /// routing uses.
    pub destinations: Vec<Destination>,
}

#[derive(Clone, Debug)]
pub struct Destination {
    pub answer_probability: f64,
    pub time_to_answer: DurationDist,
    pub ring_timeout: SimDuration,
}

#[derive(Clone, Debug)]
pub struct RedialConfig {
    pub probability: f64,
    pub delay: DurationDist,
    /// Attempts in all, the first included (2 = at most one redial).
    pub max_attempts: u32,
    pub after_abandon: bool,
    pub after_failure: bool,
    pub after_no_answer: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CarrierConfig {
    pub name: String,
    pub limiter: LimiterSpec,
    /// Concurrent channels (legs ringing or talking); None = unlimited.
    pub channels: Option<u64>,
    /// true: every simulcall leg needs a dial token (Telnyx); false: only a call's first leg.
    pub count_each_leg: bool,
    /// Whether legs placed by backup routing need a dial token (they did at CallRail).
    pub count_backup_legs: bool,
    pub over_limit: OverLimit,
    /// `over_limit = "reject"` only: the platform retries a rejected leg after a backoff
    /// (None: a rejected leg fails at once).
    pub leg_retry: Option<RetryPolicy>,
}

impl CarrierConfig {
    /// A queued leg its call no longer needs is dialled and hung up (not withdrawn).
    pub fn dials_cancelled_legs(&self) -> bool {
        matches!(
            self.over_limit,
            OverLimit::Queue {
                cancel: CancelQueued::DialAndHangUp,
                ..
            }
        )
    }
}

impl ModelConfig {
    /// Whether any carrier, at the start or after a scheduled change, satisfies `f`.
    pub fn any_carrier(&self, f: impl Fn(&CarrierConfig) -> bool) -> bool {
        self.carriers.iter().any(&f)
            || self.changes.iter().any(|c| match &c.kind {
                ChangeKind::Carrier(_, cc) => f(cc),
                _ => false,
            })
    }
}

/// What becomes of a queued leg that its call no longer needs (the caller hung up, or another
/// leg answered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelQueued {
    /// The platform withdraws it: it leaves the queue at no cost.
    Withdraw,
    /// The queue is at the carrier and cannot be withdrawn: the leg keeps its place, takes a
    /// dial slot (a token, if it is counted) when its turn comes, and is hung up that instant.
    DialAndHangUp,
}

/// A client's retries: up to `retries` attempts after the first, attempt k + 1 waiting
/// `backoff` x `backoff_multiplier`^(k-1) after failure k. Shared by platform clients
/// (`[sources.NAME]`) and by legs a carrier rejected (`[carriers.NAME]`).
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    pub retries: u32,
    pub backoff: DurationDist,
    pub backoff_multiplier: f64,
}

impl RetryPolicy {
    /// No retries, with the default backoff (1 s, doubling).
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            retries: 0,
            backoff: DurationDist::Fixed(SimDuration::from_secs(1)),
            backoff_multiplier: 2.0,
        }
    }

    /// Whether every wait before retry `k` is the same for every call (a fixed base): the
    /// retries then belong in the scheduler's fixed-delay timer queues, not its heap.
    pub fn fixed(&self) -> bool {
        matches!(self.backoff, DurationDist::Fixed(_))
    }

    /// The wait before retry `k` (k = 1, 2, ...), the base drawn from `rng`.
    pub fn wait(&self, k: u32, rng: &mut impl rand::Rng) -> SimDuration {
        let base = self.backoff.sample(rng);
        SimDuration::from_secs_f64(base.as_secs_f64() * self.backoff_multiplier.powi(k as i32 - 1))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OverLimit {
    /// Hold legs FIFO until a token and a channel are free.
    Queue {
        capacity: Option<u64>,
        max_wait: Option<SimDuration>,
        /// What a cancelled queued leg does.
        cancel: CancelQueued,
    },
    /// Fail the leg at once with this code (SIP 503, HTTP 429, SIP 403, ...).
    Reject { code: u16 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct BackupConfig {
    /// The platform-wide policy: while on, every call source's new calls are backup-routed.
    pub policy: BackupPolicy,
    /// Policies for single call sources (`[backup.sources.NAME]`), by source index, in source
    /// order: each has its own state; a call is backup-routed while the platform-wide policy or
    /// its source's policy is on.
    pub sources: Vec<(usize, BackupPolicy)>,
}

impl BackupConfig {
    /// The policy of source `source` alone (off when it has none).
    pub fn policy_of(&self, source: usize) -> &BackupPolicy {
        static OFF: BackupPolicy = BackupPolicy::Off;
        self.sources
            .iter()
            .find(|(s, _)| *s == source)
            .map_or(&OFF, |(_, p)| p)
    }

    /// Whether no policy, platform-wide or per source, can ever switch backup routing on.
    pub fn is_off(&self) -> bool {
        self.policy == BackupPolicy::Off
            && self.sources.iter().all(|(_, p)| *p == BackupPolicy::Off)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum BackupPolicy {
    Off,
    /// Forced on during these [from, to) clock windows.
    Manual(Vec<(SimTime, SimTime)>),
    Auto(AutoBackup),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoMetric {
    /// 95th percentile of the dial delay of legs dialled in the last `window`.
    DialDelayP95,
    /// How long the oldest leg still waiting for a dial slot has waited.
    OldestWait,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AutoBackup {
    pub metric: AutoMetric,
    pub window: SimDuration,
    pub on_above: SimDuration,
    pub off_below: SimDuration,
    pub evaluate_every: SimDuration,
    /// Once on, stay on at least this long (hysteresis against flapping).
    pub min_on: SimDuration,
}

#[derive(Clone, Debug)]
pub struct Change {
    pub at: SimTime,
    /// Human label shown by `callsim check`: the clock time and the keys set.
    pub label: String,
    pub kind: ChangeKind,
}

#[derive(Clone, Debug)]
pub enum ChangeKind {
    Carrier(usize, CarrierConfig),
    Source(usize, SourceBehaviour),
    /// The backup policies after the change; `platform` and `sources` say which of them the
    /// change touched (they are put in force anew; the others keep their state).
    Backup {
        cfg: BackupConfig,
        platform: bool,
        sources: Vec<usize>,
    },
    Stage(usize, StageConfig),
    /// The flag: the change sets `primary` (a scheduled failover); otherwise the primary in
    /// force (perhaps after an automatic failover) stays.
    Dependency(usize, DependencyConfig, bool),
    /// Unblock every blocked account (a manual reset).
    ResetAccounts,
}

/// What a source generates: telephone calls (dialled through a carrier after the platform
/// stages) or API requests (done once through the stages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Call,
    Request,
}

/// Who a source's requests belong to, and how its clients behave toward the platform.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    pub kind: SourceKind,
    /// Customer account (tenant) the traffic belongs to; per-tenant limits and outputs key on it.
    pub tenant: String,
    /// API method (gateway limits can fail for one method).
    pub method: String,
    /// Accounts behind this source; each call or request belongs to one, drawn uniformly. An
    /// account can be blocked (by a fail-closed lookup) until a reset.
    pub accounts: u32,
    /// Stages in the path, in order (indices into `ModelConfig::stages`).
    pub stages: Vec<usize>,
    /// The client gives up an attempt after this long (the server's work goes on).
    pub timeout: Option<SimDuration>,
    /// Attempts after the first when an attempt fails or times out, and their backoff.
    pub retry: RetryPolicy,
}

impl ClientConfig {
    pub fn plain_calls(tenant: &str) -> ClientConfig {
        ClientConfig {
            kind: SourceKind::Call,
            tenant: tenant.to_string(),
            method: "call".into(),
            accounts: 1,
            stages: Vec::new(),
            timeout: None,
            retry: RetryPolicy::none(),
        }
    }
}

/// What a stage does when its sessions (or pods) are all busy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StageOverLimit {
    /// Refuse at once with this code (503 from a load balancer out of sessions).
    Refuse { code: u16 },
    /// Wait FIFO for a session, refused with `code` after `timeout` (if any).
    Wait {
        timeout: Option<SimDuration>,
        code: u16,
    },
}

/// How a stage treats a failed lookup in its dependency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupPolicy {
    /// Carry on as if the lookup succeeded.
    FailOpen,
    /// Fail the attempt (5xx).
    FailClosed,
    /// Treat the missing value as "account disabled": block the account until a reset, and
    /// fail the attempt with 403.
    DisableAccount,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StageDependency {
    pub dependency: usize,
    pub on_error: LookupPolicy,
    /// false: the client stays connected to the node that was primary at the start (as one
    /// Simwood service did) instead of following a failover.
    pub follows_failover: bool,
    /// A lookup slower than this fails when it reaches it (the client's own query timeout).
    pub timeout: Option<SimDuration>,
}

/// Per-tenant rate limiting at a stage (an API gateway).
#[derive(Clone, Debug, PartialEq)]
pub struct TenantLimit {
    pub limiter: LimiterSpec,
    pub code: u16,
    /// Methods for which the limiter fails to enforce (a bug on that path).
    pub bypass_methods: Vec<String>,
}

/// A pool of servers (pods) behind a stage.
#[derive(Clone, Debug, PartialEq)]
pub struct PodsConfig {
    /// Pods wanted now (a change to it is a manual rescale).
    pub count: u32,
    /// Concurrent jobs per pod.
    pub capacity: u32,
    pub memory_limit_mb: f64,
    pub base_memory_mb: f64,
    /// Each pod's memory at every (re)start is uniform within `base_memory_mb ± this` (0: all
    /// pods start alike).
    pub base_memory_spread_mb: f64,
    /// Service time multiplier of a pod at its memory limit (1: none); in between it grows in
    /// proportion to the pod's fill from its base to the limit.
    pub slowdown_at_limit: f64,
    /// Memory each job of a method leaks, MB (method name, MB per job).
    pub leak_mb: Vec<(String, f64)>,
    /// Leaked memory the runtime reclaims per second (garbage collection): a pod leaks net only
    /// while its leak rate is above this, so spreading a flood over more pods can stop crashes.
    pub reclaim_mb_per_s: f64,
    /// A crashed pod is back after this long.
    pub restart_time: SimDuration,
    /// A new pod (scale-up) serves after this long.
    pub start_time: SimDuration,
}

/// What an autoscaler measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleMetric {
    /// Jobs in progress over the capacity of the pods up (a Kubernetes HPA on CPU).
    Busy,
    /// Mean memory of the pods up over `memory_limit_mb` (an HPA on memory).
    Memory,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalerConfig {
    pub min: u32,
    pub max: u32,
    pub metric: ScaleMetric,
    /// Share (of busy capacity, or of the memory limit) the autoscaler aims at.
    pub target_utilization: f64,
    pub evaluate_every: SimDuration,
    /// Utilisation must stay above target this long before a scale-up (how late it reacts).
    pub stabilization: SimDuration,
    /// After a scaling action, none for this long.
    pub cooldown: SimDuration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StageConfig {
    pub name: String,
    /// Concurrent jobs (sessions); with pods, pods x capacity instead.
    pub sessions: Option<u64>,
    pub over_limit: StageOverLimit,
    pub service_time: DurationDist,
    pub dependency: Option<StageDependency>,
    pub tenant_limit: Option<TenantLimit>,
    pub pods: Option<PodsConfig>,
    pub autoscaler: Option<AutoscalerConfig>,
    /// Code of a failed job (dependency error under fail_closed, pod crash).
    pub error_code: u16,
    /// false: out of band; an attempt moves on at once and the stage's job runs beside it
    /// (its failed lookup can still block the account for later calls).
    pub in_path: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    pub name: String,
    pub latency: DurationDist,
    /// Probability that a lookup on this node fails (connection failure, missing value).
    pub error_rate: f64,
    /// The lookup error rate while the node is not the primary (it then carries only the
    /// clients that did not follow a failover); None: `error_rate` always.
    pub error_rate_standby: Option<f64>,
    /// Random episodes in which lookups take `episodes.latency` instead (a bad query plan
    /// chosen and kept for a while).
    pub episodes: Option<Episodes>,
}

/// An alternating renewal process: `gap`, an episode of `length`, `gap`, ...
#[derive(Clone, Debug, PartialEq)]
pub struct Episodes {
    pub gap: DurationDist,
    pub length: DurationDist,
    pub latency: DurationDist,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheck {
    pub every: SimDuration,
    /// Fail over when probes of the primary have failed continuously this long.
    pub fail_after: SimDuration,
    /// A probe answered later than this fails (a slow node is taken for a down one).
    pub timeout: Option<SimDuration>,
}

/// A shared dependency (a Redis master with replicas, a database): nodes, a primary, and an
/// automatic failover from health checks.
#[derive(Clone, Debug, PartialEq)]
pub struct DependencyConfig {
    pub name: String,
    pub nodes: Vec<NodeConfig>,
    /// The node that is primary now (a change to it is a failover).
    pub primary: usize,
    pub health_check: Option<HealthCheck>,
    /// Lookups served at once (a connection pool); more wait in a FIFO, each holding its job
    /// (and so its stage session). None: unlimited, no queue.
    pub connections: Option<u32>,
}
