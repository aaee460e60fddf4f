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
    /// Scheduled changes, sorted by time (stable: same-time changes apply in file order).
    pub changes: Vec<Change>,
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
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OverLimit {
    /// Hold legs FIFO until a token and a channel are free.
    Queue {
        capacity: Option<u64>,
        max_wait: Option<SimDuration>,
    },
    /// Fail the leg at once with this code (SIP 503, HTTP 429, SIP 403, ...).
    Reject { code: u16 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct BackupConfig {
    pub policy: BackupPolicy,
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
    Backup(BackupConfig),
}
