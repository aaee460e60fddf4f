//! The scenario key registry: every table and key a scenario may hold, with its type, unit,
//! default, allowed range and meaning. The loader consults it (debug builds assert that every
//! key the reader asks for and every word list it accepts is registered here, so the two cannot
//! drift); `callsim schema` renders it as JSON Schema (draft 4, the draft taplo / Even Better TOML
//! support) for editors; docs/scenario.md's
//! key tables are checked against it by a test; `callsim serve` draws its controls from it.
//!
//! Depends on serde_json and one model constant (MAX_LEGS); does no I/O.

use serde_json::{json, Map, Value};

/// The type of a key's value, as the loader reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    Str,
    Bool,
    /// A whole number in `[min, max]`.
    Int {
        min: i64,
        max: Option<i64>,
    },
    /// A finite number; `min` is exclusive when `min_exclusive`.
    Num {
        min: Option<f64>,
        min_exclusive: bool,
        max: Option<f64>,
    },
    /// A number between 0 and 1.
    Prob,
    /// A duration string ("250ms", "1m30s") or the integer 0.
    Duration,
    /// A duration string only (the top-level `duration`).
    DurationStr,
    /// A clock time string ("13:30", "13:30:05.25").
    Clock,
    /// A rate string ("12/s", "300/min").
    Rate,
    /// A rate, or a profile `[[clock, rate], ...]`.
    RateOrProfile,
    /// A duration, or a distribution table.
    Dist,
    /// A distribution, or "never" / "inf".
    Patience,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// An array of words from a fixed set.
    Choices(&'static [&'static str]),
    /// An array of strings.
    Strings,
    /// A pair of clock times.
    ClockPair,
    /// Legs per call: an integer 1-10 or a table of weights keyed by leg count.
    Legs,
    /// A table of name = number >= 0 (MB).
    NumMap,
    /// A table whose keys are described by a `Def`.
    Table(&'static Def),
    /// A table of named entries (`[carriers.NAME]`).
    Map(&'static Ty),
    /// An array of entries.
    Array(&'static Ty),
    /// Any table (variants, a change's `set`): keys of the scenario itself.
    AnyTable,
}

/// One key of a table.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    /// The default, as the docs say it ("" when there is none).
    pub default: &'static str,
    /// The allowed values in words ("" when the type says it all).
    pub allowed: &'static str,
    pub meaning: &'static str,
}

/// A table: its keys, and the docs labels (headings or `label:` lines) of its key tables.
#[derive(Debug)]
pub struct Def {
    /// The JSON Schema definition name.
    pub id: &'static str,
    pub title: &'static str,
    pub docs: &'static [&'static str],
    pub keys: &'static [Key],
}

const fn k(name: &'static str, ty: Ty, default: &'static str, meaning: &'static str) -> Key {
    Key {
        name,
        ty,
        required: false,
        default,
        allowed: "",
        meaning,
    }
}

const fn req(name: &'static str, ty: Ty, meaning: &'static str) -> Key {
    Key {
        name,
        ty,
        required: true,
        default: "",
        allowed: "",
        meaning,
    }
}

const fn int(min: i64, max: Option<i64>) -> Ty {
    Ty::Int { min, max }
}

const fn num(min: Option<f64>, min_exclusive: bool, max: Option<f64>) -> Ty {
    Ty::Num {
        min,
        min_exclusive,
        max,
    }
}

pub const ALGORITHMS: &[&str] = &[
    "token_bucket",
    "gcra",
    "fixed_window",
    "rolling_window",
    "none",
];
pub const DIST_KINDS: &[&str] = &[
    "fixed",
    "exponential",
    "lognormal",
    "weibull",
    "uniform",
    "empirical",
    "mixture",
];
/// The most legs a call may have.
pub const MAX_LEGS: i64 = crate::model::config::MAX_LEGS as i64;

const INFO: Key = k("description", Ty::Str, "", "Informational.");

pub static ROOT: Def = Def {
    id: "scenario",
    title: "callsim scenario",
    docs: &["Top level"],
    keys: &[
        k(
            "name",
            Ty::Str,
            "\"unnamed scenario\"",
            "Title of the terminal summary and progress bar.",
        ),
        k("description", Ty::Str, "\"\"", "Informational only."),
        k(
            "seed",
            int(0, None),
            "1",
            "Master seed; the same seed gives byte-identical output.",
        ),
        k(
            "replications",
            int(1, Some(100_000)),
            "1",
            "Independent replications.",
        ),
        k(
            "start",
            Ty::Clock,
            "\"00:00\"",
            "First instant: arrivals and limiters start here.",
        ),
        k(
            "end",
            Ty::Clock,
            "",
            "Arrivals of first attempts stop (required, or `duration`).",
        ),
        k(
            "duration",
            Ty::DurationStr,
            "",
            "Alternative to `end`: end = start + duration.",
        ),
        k(
            "warmup",
            Ty::Duration,
            "\"0\"",
            "Calls arriving before start + warmup are left out of the statistics.",
        ),
        k(
            "drain",
            Ty::Duration,
            "\"4h\"",
            "After `end`, calls in progress go on until end + drain.",
        ),
        k(
            "calls",
            int(1, None),
            "unlimited",
            "Cap on first attempts, all sources together.",
        ),
        k(
            "timeline_interval",
            Ty::Duration,
            "\"1m\"",
            "Width of a timeline.csv row (> 0; at most 10 million rows).",
        ),
        k(
            "carriers",
            Ty::Map(&Ty::Table(&CARRIER)),
            "",
            "The carriers, [carriers.NAME].",
        ),
        Key {
            required: true,
            ..k(
                "sources",
                Ty::Map(&Ty::Table(&SOURCE)),
                "",
                "The sources of calls or requests, [sources.NAME] (at least one).",
            )
        },
        k(
            "dependencies",
            Ty::Map(&Ty::Table(&DEPENDENCY)),
            "none",
            "Services the platform's stages call, [dependencies.NAME].",
        ),
        k(
            "stages",
            Ty::Map(&Ty::Table(&STAGE)),
            "none",
            "The platform's stages, [stages.NAME].",
        ),
        k(
            "backup",
            Ty::Table(&BACKUP),
            "policy off",
            "Backup routing, [backup].",
        ),
        k(
            "changes",
            Ty::Array(&Ty::Table(&CHANGE)),
            "none",
            "Scheduled changes, [[changes]].",
        ),
        k(
            "variants",
            Ty::Map(&Ty::AnyTable),
            "none",
            "Named sets of overrides of any key, [variants.NAME].",
        ),
        k(
            "validation",
            Ty::Table(&VALIDATION),
            "none",
            "Marks the file as a queueing-theory validation case.",
        ),
        k(
            "windows",
            Ty::Map(&Ty::ClockPair),
            "none",
            "Named clock windows of arrivals, NAME = [\"10:00\", \"12:00\"].",
        ),
        k(
            "levers",
            Ty::Map(&Ty::Table(&LEVER)),
            "carrier rates and bursts, legs, patience, rate_scale, backup policy",
            "Controls of `callsim serve`: \"KEY.PATH\" = { min, max, step, label }.",
        ),
        k(
            "alerts",
            Ty::Array(&Ty::Table(&ALERT)),
            "none",
            "Alert rules over the timeline's metric stream, [[alerts]].",
        ),
    ],
};

pub static ALERT: Def = Def {
    id: "alert",
    title: "[[alerts]]",
    docs: &["`[[alerts]]`"],
    keys: &[
        req("name", Ty::Str, "The rule's name in outputs (unique; no `[`, `]`)."),
        req(
            "metric",
            Ty::Str,
            "A registry metric that exists per window, computed over each timeline interval (e.g. dial_delay_ms_p95, abandon_ratio).",
        ),
        req(
            "op",
            Ty::Choice(&[">", ">=", "<", "<="]),
            "How the value (or its change) is compared with the threshold.",
        ),
        req(
            "threshold",
            num(None, false, None),
            "The threshold, in the metric's unit.",
        ),
        k(
            "for",
            Ty::Duration,
            "\"0\"",
            "How long the condition must hold before the rule fires.",
        ),
        k(
            "change_over",
            Ty::Duration,
            "none",
            "Compare the metric's change over this span (a multiple of timeline_interval) instead of its value.",
        ),
        INFO,
    ],
};

pub static LEVER: Def = Def {
    id: "lever",
    title: "[levers]",
    docs: &["`[levers]`"],
    keys: &[
        k("min", num(None, false, None), "a quarter of the value", "Lowest value of the control, in the key's unit (per second for rates, seconds for durations)."),
        k("max", num(None, false, None), "four times the value", "Highest value of the control (> min)."),
        k("step", num(Some(0.0), true, None), "1 (0.1 below 10)", "Step of the control (> 0)."),
        k("label", Ty::Str, "the key", "What the control is called on the page."),
    ],
};

/// `cancel_queued`: what becomes of a queued leg its call no longer needs.
pub const CANCEL_QUEUED: &[&str] = &["withdraw", "dial_and_hang_up"];

pub static CARRIER: Def = Def {
    id: "carrier",
    title: "[carriers.NAME]",
    docs: &["`[carriers.NAME]`"],
    keys: &[
        k(
            "algorithm",
            Ty::Choice(ALGORITHMS),
            "rolling_window if limit, else token_bucket if rate, else none",
            "The dial-rate limiter.",
        ),
        k(
            "rate",
            Ty::Rate,
            "required for token_bucket/gcra",
            "Refill rate (tokens per unit time), > 0.",
        ),
        k(
            "burst",
            int(1, None),
            "1",
            "Bucket size: legs that may pass back to back after an idle spell.",
        ),
        k(
            "limit",
            int(1, None),
            "required for window algorithms",
            "Admissions allowed per window.",
        ),
        k(
            "window",
            Ty::Duration,
            "\"1s\"",
            "Window length (> 0); window algorithms only.",
        ),
        k(
            "channels",
            int(1, None),
            "unlimited",
            "Concurrent legs on this carrier.",
        ),
        k(
            "count_each_leg",
            Ty::Bool,
            "true",
            "Every leg needs a token (false: only each call's first leg).",
        ),
        k(
            "count_backup_legs",
            Ty::Bool,
            "true",
            "Whether the leg of a backup-routed call needs a token.",
        ),
        k(
            "over_limit",
            Ty::Choice(&["queue", "reject"]),
            "\"queue\"",
            "What happens to a leg that cannot be dialled at once.",
        ),
        k(
            "queue_capacity",
            int(0, None),
            "unlimited",
            "queue only: legs queued beyond this fail (queue full).",
        ),
        k(
            "max_queue_wait",
            Ty::Duration,
            "unlimited",
            "queue only: a leg queued this long fails (> 0).",
        ),
        k(
            "reject_code",
            int(100, Some(699)),
            "503",
            "reject only: SIP/HTTP code of rejected legs.",
        ),
        k(
            "cancel_queued",
            Ty::Choice(CANCEL_QUEUED),
            "\"withdraw\"",
            "queue only: a queued leg whose call no longer needs it leaves the queue (withdraw) or is dialled when its turn comes and hung up at once (dial_and_hang_up).",
        ),
        k(
            "retries",
            int(0, Some(100)),
            "0",
            "reject only: the platform retries a rejected leg this many times.",
        ),
        k(
            "backoff",
            Ty::Dist,
            "\"1s\"",
            "reject only: base wait before a leg's retry.",
        ),
        k(
            "backoff_multiplier",
            num(Some(1.0), false, Some(10.0)),
            "2.0",
            "reject only: wait before retry k = backoff x multiplier^(k-1).",
        ),
        INFO,
    ],
};

pub static SOURCE: Def = Def {
    id: "source",
    title: "[sources.NAME]",
    docs: &["`[sources.NAME]`", "Client keys of `[sources.NAME]`"],
    keys: &[
        k(
            "rate",
            Ty::RateOrProfile,
            "one of rate/trace required",
            "Poisson arrivals: a rate or a profile [[clock, rate], ...].",
        ),
        k(
            "trace",
            Ty::Table(&TRACE),
            "",
            "Replay arrival instants from a CSV file (not with rate).",
        ),
        k(
            "carrier",
            Ty::Str,
            "the only carrier",
            "Carrier for every leg of this source's calls.",
        ),
        k(
            "rate_scale",
            num(Some(0.0), false, None),
            "1.0",
            "Multiplies the rate profile; 0 stops arrivals.",
        ),
        k(
            "setup_delay",
            Ty::Dist,
            "\"0\"",
            "Processing between arrival and the first leg request.",
        ),
        k(
            "patience",
            Ty::Patience,
            "\"never\"",
            "Time the caller waits for an answer, from arrival.",
        ),
        k(
            "talk_time",
            Ty::Dist,
            "{ dist = \"exponential\", mean = \"3m\" }",
            "Answer to hang-up of a connected call.",
        ),
        k(
            "flow",
            Ty::Table(&FLOW),
            "simulcall, 1 leg, 1 default destination",
            "How legs are requested.",
        ),
        k(
            "redial",
            Ty::Table(&REDIAL),
            "no redials",
            "Callers who try again.",
        ),
        k(
            "kind",
            Ty::Choice(&["call", "request"]),
            "\"call\"",
            "Telephone calls or API requests.",
        ),
        k(
            "tenant",
            Ty::Str,
            "the source's name",
            "The customer the traffic belongs to.",
        ),
        k(
            "method",
            Ty::Str,
            "\"call\" or \"request\"",
            "The API method (tenant_limit.bypass_methods, pods.leak_mb).",
        ),
        k(
            "accounts",
            int(1, Some(10_000_000)),
            "1",
            "Accounts behind the source.",
        ),
        k(
            "stages",
            Ty::Strings,
            "[] (no platform)",
            "The stages every attempt passes, in order.",
        ),
        k(
            "timeout",
            Ty::Duration,
            "none",
            "The client gives up an attempt still in the platform after this long (> 0).",
        ),
        k(
            "retries",
            int(0, Some(100)),
            "0",
            "Attempts after the first when one fails in the platform.",
        ),
        k("backoff", Ty::Dist, "\"1s\"", "Base wait before a retry."),
        k(
            "backoff_multiplier",
            num(Some(1.0), false, Some(10.0)),
            "2.0",
            "Wait before retry k = backoff x multiplier^(k-1).",
        ),
        INFO,
    ],
};

pub static TRACE: Def = Def {
    id: "trace",
    title: "trace = { file, column }",
    docs: &["Traces: `trace = { file = \"...\", column = \"time\" }`"],
    keys: &[
        req(
            "file",
            Ty::Str,
            "CSV path, relative to the scenario file's folder.",
        ),
        k(
            "column",
            Ty::Str,
            "\"time\"",
            "Header of the column holding arrival instants.",
        ),
    ],
};

pub static FLOW: Def = Def {
    id: "flow",
    title: "[sources.NAME.flow]",
    docs: &["`[sources.NAME.flow]`"],
    keys: &[
        k(
            "mode",
            Ty::Choice(&["simulcall", "sequential"]),
            "\"simulcall\"",
            "All legs at once (first answer wins) or one after another.",
        ),
        k(
            "legs",
            Ty::Legs,
            "1",
            "Legs per call (1-10), or weights such as { 1 = 0.35, 3 = 0.65 }.",
        ),
        k(
            "destinations",
            Ty::Array(&Ty::Table(&DESTINATION)),
            "one default destination",
            "Leg i rings destination min(i, len - 1).",
        ),
    ],
};

pub static DESTINATION: Def = Def {
    id: "destination",
    title: "[[sources.NAME.flow.destinations]]",
    docs: &["`[[sources.NAME.flow.destinations]]`"],
    keys: &[
        k(
            "answer_probability",
            Ty::Prob,
            "1.0",
            "Chance that a leg to this destination answers at all.",
        ),
        k(
            "time_to_answer",
            Ty::Dist,
            "\"0\"",
            "Ringing time before the answer.",
        ),
        k(
            "ring_timeout",
            Ty::Duration,
            "\"30s\"",
            "A leg that does not answer rings this long (> 0).",
        ),
        INFO,
    ],
};

pub static REDIAL: Def = Def {
    id: "redial",
    title: "[sources.NAME.redial]",
    docs: &["`[sources.NAME.redial]`"],
    keys: &[
        req(
            "probability",
            Ty::Prob,
            "Chance that an eligible call is redialled.",
        ),
        k(
            "delay",
            Ty::Dist,
            "{ dist = \"exponential\", mean = \"30s\" }",
            "Time from the end of the attempt to the redial.",
        ),
        k(
            "max_attempts",
            int(1, Some(100)),
            "3",
            "Attempts in all, the first included.",
        ),
        k(
            "after",
            Ty::Choices(&["abandoned", "failed", "no_answer"]),
            "[\"abandoned\", \"failed\"]",
            "Outcomes that may lead to a redial.",
        ),
    ],
};

pub static DIST: Def = Def {
    id: "distribution",
    title: "a distribution table",
    docs: &[],
    keys: &[
        req("dist", Ty::Choice(DIST_KINDS), "The distribution family."),
        k("value", Ty::Duration, "", "fixed: the value."),
        k(
            "mean",
            Ty::Duration,
            "",
            "exponential, lognormal: the mean (> 0).",
        ),
        k(
            "median",
            Ty::Duration,
            "",
            "lognormal: the median (> 0), with sigma.",
        ),
        k(
            "sigma",
            num(Some(0.0), true, None),
            "",
            "lognormal: sigma (> 0), with median.",
        ),
        k(
            "sd",
            Ty::Duration,
            "",
            "lognormal: the standard deviation (> 0), with mean.",
        ),
        k(
            "shape",
            num(Some(0.0), true, None),
            "",
            "weibull: the shape (> 0).",
        ),
        k("scale", Ty::Duration, "", "weibull: the scale (> 0)."),
        k("min", Ty::Duration, "", "uniform: the lower end."),
        k("max", Ty::Duration, "", "uniform: the upper end (>= min)."),
        k(
            "file",
            Ty::Str,
            "",
            "empirical: CSV path, relative to the scenario file.",
        ),
        k(
            "column",
            Ty::Str,
            "the first column",
            "empirical: the column of values.",
        ),
        k(
            "components",
            Ty::Array(&Ty::Table(&DIST)),
            "",
            "mixture: component distributions, each with a weight.",
        ),
        k(
            "weight",
            num(Some(0.0), false, None),
            "",
            "In a mixture component: its probability (weights sum to 1).",
        ),
    ],
};

/// The keys of a backup policy, shared by `[backup]` and `[backup.sources.NAME]`.
const BACKUP_POLICY_KEY: Key = k(
    "policy",
    Ty::Choice(&["off", "manual", "auto"]),
    "auto if auto is given, else manual if windows, else off",
    "Backup routing policy.",
);
const BACKUP_WINDOWS_KEY: Key = k(
    "windows",
    Ty::Array(&Ty::ClockPair),
    "",
    "manual: on during each [from, to); in order, not overlapping.",
);
const BACKUP_AUTO_KEY: Key = k(
    "auto",
    Ty::Table(&BACKUP_AUTO),
    "",
    "The automatic policy (required with auto).",
);

pub static BACKUP: Def = Def {
    id: "backup",
    title: "[backup]",
    docs: &["`[backup]`"],
    keys: &[
        BACKUP_POLICY_KEY,
        BACKUP_WINDOWS_KEY,
        BACKUP_AUTO_KEY,
        k(
            "sources",
            Ty::Map(&Ty::Table(&BACKUP_SOURCE)),
            "none",
            "Policies for single call sources, [backup.sources.NAME].",
        ),
    ],
};

pub static BACKUP_SOURCE: Def = Def {
    id: "backup_source",
    title: "[backup.sources.NAME]",
    docs: &["`[backup.sources.NAME]`"],
    keys: &[BACKUP_POLICY_KEY, BACKUP_WINDOWS_KEY, BACKUP_AUTO_KEY],
};

pub static BACKUP_AUTO: Def = Def {
    id: "backup_auto",
    title: "[backup.auto]",
    docs: &["`[backup.auto]`"],
    keys: &[
        k(
            "metric",
            Ty::Choice(&["dial_delay_p95", "oldest_wait"]),
            "\"dial_delay_p95\"",
            "What the policy watches.",
        ),
        k(
            "window",
            Ty::Duration,
            "\"1m\"",
            "Look-back of dial_delay_p95 (> 0).",
        ),
        k(
            "on_above",
            Ty::Duration,
            "\"5s\"",
            "Switch on when the metric is above this (> 0).",
        ),
        k(
            "off_below",
            Ty::Duration,
            "\"1s\"",
            "Switch off when below this (<= on_above) after min_on.",
        ),
        k(
            "evaluate_every",
            Ty::Duration,
            "\"10s\"",
            "Evaluation period (> 0).",
        ),
        k(
            "min_on",
            Ty::Duration,
            "\"5m\"",
            "Minimum time on once switched on.",
        ),
    ],
};

pub static DEPENDENCY: Def = Def {
    id: "dependency",
    title: "[dependencies.NAME]",
    docs: &["`[dependencies.NAME]`"],
    keys: &[
        req(
            "nodes",
            Ty::Map(&Ty::Table(&NODE)),
            "The nodes, in failover order (at least one).",
        ),
        k(
            "primary",
            Ty::Str,
            "the first node",
            "The node that is primary at the start.",
        ),
        k(
            "health_check",
            Ty::Table(&HEALTH_CHECK),
            "none",
            "Probes and automatic failover (needs two nodes).",
        ),
        k(
            "connections",
            int(1, None),
            "unlimited",
            "Lookups served at once; more wait in a FIFO, holding their stage sessions.",
        ),
        INFO,
    ],
};

pub static NODE: Def = Def {
    id: "node",
    title: "nodes.NAME",
    docs: &["`nodes.NAME`"],
    keys: &[
        k(
            "latency",
            Ty::Dist,
            "\"1ms\"",
            "Added to a job's service_time when it reads this node.",
        ),
        k(
            "error_rate",
            Ty::Prob,
            "0",
            "Chance that a lookup (or a probe) on this node fails.",
        ),
        k(
            "error_rate_standby",
            Ty::Prob,
            "error_rate",
            "Lookup error rate while the node is not the primary.",
        ),
        k(
            "episodes",
            Ty::Table(&EPISODES),
            "none (`{}` too)",
            "Random episodes of another latency (a bad query plan kept for a while).",
        ),
        INFO,
    ],
};

pub static EPISODES: Def = Def {
    id: "episodes",
    title: "nodes.NAME.episodes",
    docs: &["`nodes.NAME.episodes`"],
    keys: &[
        req(
            "gap",
            Ty::Dist,
            "Time from the start, or from the end of an episode, to the next episode.",
        ),
        req("length", Ty::Dist, "How long an episode lasts."),
        req(
            "latency",
            Ty::Dist,
            "Lookup latency on this node during an episode (instead of `latency`).",
        ),
    ],
};

pub static HEALTH_CHECK: Def = Def {
    id: "health_check",
    title: "health_check",
    docs: &["`health_check`"],
    keys: &[
        k("every", Ty::Duration, "\"5s\"", "Probe period (> 0)."),
        k(
            "fail_after",
            Ty::Duration,
            "\"30s\"",
            "Fail over after probes failed this long.",
        ),
        k(
            "timeout",
            Ty::Duration,
            "none",
            "A probe slower than this fails (> 0).",
        ),
    ],
};

pub static STAGE: Def = Def {
    id: "stage",
    title: "[stages.NAME]",
    docs: &["`[stages.NAME]`"],
    keys: &[
        k(
            "sessions",
            int(1, None),
            "unlimited",
            "Concurrent jobs (not with pods).",
        ),
        k(
            "pods",
            Ty::Table(&PODS),
            "none",
            "Capacity as a pool of pods (not with sessions).",
        ),
        k(
            "over_limit",
            Ty::Choice(&["refuse", "wait"]),
            "\"refuse\"",
            "An attempt finding no free slot is refused or waits.",
        ),
        k(
            "wait_timeout",
            Ty::Duration,
            "none",
            "wait only: refuse an attempt waiting this long (> 0).",
        ),
        k(
            "refuse_code",
            int(100, Some(699)),
            "503",
            "Code of an attempt refused for lack of a slot.",
        ),
        k(
            "service_time",
            Ty::Dist,
            "\"0\"",
            "The stage's own work per job.",
        ),
        k(
            "dependency",
            Ty::Table(&STAGE_DEPENDENCY),
            "none",
            "The dependency each job calls.",
        ),
        k(
            "error_code",
            int(100, Some(699)),
            "503",
            "Code of an attempt whose job failed.",
        ),
        k(
            "in_path",
            Ty::Bool,
            "true",
            "false: out of band; the attempt moves on, the job runs beside it.",
        ),
        k(
            "tenant_limit",
            Ty::Table(&TENANT_LIMIT),
            "none",
            "A per-tenant rate limiter.",
        ),
        k(
            "autoscaler",
            Ty::Table(&AUTOSCALER),
            "none",
            "Scales the pods (needs pods).",
        ),
        INFO,
    ],
};

pub static STAGE_DEPENDENCY: Def = Def {
    id: "stage_dependency",
    title: "[stages.NAME].dependency",
    docs: &["`[stages.NAME].dependency`"],
    keys: &[
        req("name", Ty::Str, "A [dependencies] name."),
        k(
            "on_error",
            Ty::Choice(&["fail_open", "fail_closed", "disable_account"]),
            "\"fail_closed\"",
            "What a failed lookup does.",
        ),
        k(
            "follows_failover",
            Ty::Bool,
            "true",
            "false: keep reading the start's primary.",
        ),
        k(
            "timeout",
            Ty::Duration,
            "none",
            "A lookup slower than this fails at it (> 0).",
        ),
    ],
};

pub static TENANT_LIMIT: Def = Def {
    id: "tenant_limit",
    title: "[stages.NAME].tenant_limit",
    docs: &["`[stages.NAME].tenant_limit`"],
    keys: &[
        k(
            "algorithm",
            Ty::Choice(ALGORITHMS),
            "as for carriers",
            "The limiter, as for carriers.",
        ),
        k("rate", Ty::Rate, "", "token_bucket/gcra: refill rate."),
        k(
            "burst",
            int(1, None),
            "1",
            "token_bucket/gcra: bucket size.",
        ),
        k(
            "limit",
            int(1, None),
            "",
            "Window algorithms: admissions per window.",
        ),
        k(
            "window",
            Ty::Duration,
            "\"1s\"",
            "Window algorithms: window length.",
        ),
        k(
            "code",
            int(100, Some(699)),
            "429",
            "Code of an attempt over the limit.",
        ),
        k(
            "bypass_methods",
            Ty::Strings,
            "[]",
            "Methods the limiter does not enforce.",
        ),
    ],
};

pub static PODS: Def = Def {
    id: "pods",
    title: "[stages.NAME].pods",
    docs: &["`[stages.NAME].pods`"],
    keys: &[
        req("count", int(0, Some(10_000)), "Pods at the start."),
        req(
            "capacity",
            int(1, Some(1_000_000)),
            "Concurrent jobs per pod.",
        ),
        k(
            "memory_limit_mb",
            num(Some(0.0), true, None),
            "unlimited",
            "A pod above this memory crashes.",
        ),
        k(
            "base_memory_mb",
            num(Some(0.0), false, None),
            "0",
            "Memory of a fresh pod (< memory_limit_mb).",
        ),
        k(
            "base_memory_spread_mb",
            num(Some(0.0), false, None),
            "0",
            "Each pod's memory at a (re)start is uniform within base_memory_mb +/- this.",
        ),
        k(
            "slowdown_at_limit",
            num(Some(1.0), false, Some(1000.0)),
            "1 (none)",
            "Service time multiplier of a pod at its memory limit; linear in its fill below.",
        ),
        k(
            "leak_mb",
            Ty::NumMap,
            "{} (no leak)",
            "Memory each job of a method leaks, { method = MB }.",
        ),
        k(
            "reclaim_mb_per_s",
            num(Some(0.0), false, None),
            "0",
            "Leaked memory reclaimed per second.",
        ),
        k(
            "restart_time",
            Ty::Duration,
            "\"30s\"",
            "A crashed pod serves again after this long.",
        ),
        k(
            "start_time",
            Ty::Duration,
            "\"60s\"",
            "A pod added by a rescale serves after this long.",
        ),
    ],
};

pub static AUTOSCALER: Def = Def {
    id: "autoscaler",
    title: "[stages.NAME].autoscaler",
    docs: &["`[stages.NAME].autoscaler`"],
    keys: &[
        k("min", int(0, None), "1", "Fewest pods (<= max)."),
        k(
            "max",
            int(1, None),
            "4 x pods.count (at least 4)",
            "Most pods.",
        ),
        k(
            "metric",
            Ty::Choice(&["busy", "memory"]),
            "\"busy\"",
            "What it measures: jobs over the capacity of the pods up, or their mean memory over `memory_limit_mb`.",
        ),
        k(
            "target_utilization",
            num(Some(0.0), true, Some(1.0)),
            "0.7",
            "Share of capacity (or of the memory limit) it aims at.",
        ),
        k(
            "evaluate_every",
            Ty::Duration,
            "\"30s\"",
            "Evaluation period (> 0).",
        ),
        k(
            "stabilization",
            Ty::Duration,
            "\"1m\"",
            "Utilisation above target this long before a scale-up.",
        ),
        k(
            "cooldown",
            Ty::Duration,
            "\"3m\"",
            "No scaling action for this long after one.",
        ),
    ],
};

pub static CHANGE: Def = Def {
    id: "change",
    title: "[[changes]]",
    docs: &["`[[changes]]`"],
    keys: &[
        req("at", Ty::Clock, "When the change applies."),
        k(
            "set",
            Ty::AnyTable,
            "required unless action",
            "Keys to change, as in the file.",
        ),
        k(
            "action",
            Ty::Choice(&["reset_accounts"]),
            "none",
            "reset_accounts: unblock every blocked account.",
        ),
        INFO,
    ],
};

pub static VALIDATION: Def = Def {
    id: "validation",
    title: "[validation]",
    docs: &["`[validation]`"],
    keys: &[
        req(
            "model",
            Ty::Choice(super::VALIDATION_MODELS),
            "The queueing system the scenario implements.",
        ),
        INFO,
    ],
};

/// Every table definition, root first.
pub fn defs() -> [&'static Def; 24] {
    [
        &ROOT,
        &CARRIER,
        &SOURCE,
        &TRACE,
        &FLOW,
        &DESTINATION,
        &REDIAL,
        &DIST,
        &BACKUP,
        &BACKUP_SOURCE,
        &BACKUP_AUTO,
        &DEPENDENCY,
        &NODE,
        &EPISODES,
        &HEALTH_CHECK,
        &STAGE,
        &STAGE_DEPENDENCY,
        &TENANT_LIMIT,
        &PODS,
        &AUTOSCALER,
        &CHANGE,
        &VALIDATION,
        &LEVER,
        &ALERT,
    ]
}

/// What a position in the document holds.
#[derive(Clone, Copy)]
enum Node {
    Def(&'static Def),
    Ty(Ty),
}

/// Definitions are statics: two are equal when they are the same one.
impl PartialEq for Def {
    fn eq(&self, other: &Def) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Def {
    pub fn key(&self, name: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.name == name)
    }
}

fn step(node: Node, seg: &str) -> Option<Node> {
    match node {
        Node::Def(d) => d.key(seg).map(|k| into(k.ty)),
        Node::Ty(Ty::Map(inner)) => Some(into(*inner)),
        Node::Ty(Ty::AnyTable) => Some(Node::Ty(Ty::AnyTable)),
        Node::Ty(Ty::Legs) | Node::Ty(Ty::NumMap) => Some(Node::Ty(Ty::Num {
            min: None,
            min_exclusive: false,
            max: None,
        })),
        _ => None,
    }
}

/// A table-valued type's own table: `Dist` and `Patience` values may be distribution tables.
fn into(ty: Ty) -> Node {
    match ty {
        Ty::Table(d) => Node::Def(d),
        Ty::Dist | Ty::Patience => Node::Def(&DIST),
        other => Node::Ty(other),
    }
}

/// The type of the value at a key path such as `sources.customers.flow.destinations[0].ring_timeout`
/// (names of carriers, sources, ... and array indices are matched by position).
pub fn lookup(path: &str) -> Option<Ty> {
    let mut node = Node::Def(&ROOT);
    if path.is_empty() {
        return None;
    }
    for raw in path.split('.') {
        let (seg, rest) = match raw.find('[') {
            Some(i) => (&raw[..i], &raw[i..]),
            None => (raw, ""),
        };
        node = step(node, seg)?;
        for _ in rest.matches('[') {
            node = match node {
                Node::Ty(Ty::Array(inner)) => into(*inner),
                _ => return None,
            };
        }
    }
    Some(match node {
        Node::Def(d) if std::ptr::eq(d, &DIST) => Ty::Dist,
        Node::Def(d) => Ty::Table(d),
        Node::Ty(t) => t,
    })
}

/// Whether the loader may ask table `table_path` for `key` (debug builds assert it).
pub fn knows(table_path: &str, key: &str) -> bool {
    // A lever's name is itself a dotted key path ("levers.carriers.main.rate"): its table is
    // a `LEVER` whatever the dots say.
    if table_path.starts_with("levers.") {
        return LEVER.key(key).is_some();
    }
    let p = if table_path.is_empty() {
        key.to_string()
    } else {
        format!("{table_path}.{key}")
    };
    lookup(&p).is_some()
}

/// The words the registry accepts at `table_path.key`, if it is a word list.
pub fn choices(table_path: &str, key: &str) -> Option<&'static [&'static str]> {
    if table_path.starts_with("levers.") {
        return None;
    }
    let p = if table_path.is_empty() {
        key.to_string()
    } else {
        format!("{table_path}.{key}")
    };
    match lookup(&p)? {
        Ty::Choice(c) | Ty::Choices(c) => Some(c),
        _ => None,
    }
}

const DURATION_RE: &str = r"^\s*(0|([0-9]+(\.[0-9]+)?\s*(ns|us|µs|ms|sec|s|min|m|h)\s*)+)$";
const CLOCK_RE: &str = r"^[0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}(\.[0-9]{1,9})?)?$";
const RATE_RE: &str =
    r"^\s*[0-9]+(\.[0-9]+)?\s*/\s*([1-9][0-9]*\s*)?(s|sec|second|m|min|minute|h|hour)\s*$";

/// The unit of a value of type `ty` at key `name`, in words ("" when it has none).
pub fn unit(name: &str, ty: &Ty) -> &'static str {
    match ty {
        Ty::Duration | Ty::DurationStr | Ty::Dist | Ty::Patience => {
            "duration: ns, us, ms, s, m (min), h"
        }
        Ty::Clock => "clock time since midnight (HH:MM[:SS])",
        Ty::Rate | Ty::RateOrProfile => "count per s, min or h",
        Ty::Prob => "probability 0-1",
        _ if name.ends_with("_mb_per_s") => "MB/s",
        _ if name.ends_with("_mb") || *ty == Ty::NumMap => "MB",
        _ if name.ends_with("code") => "SIP/HTTP status",
        _ => "",
    }
}

fn ty_schema(ty: &Ty) -> Value {
    let duration = json!({"anyOf": [{"type": "string", "pattern": DURATION_RE}, {"type": "integer", "enum": [0]}]});
    let clock = json!({"type": "string", "pattern": CLOCK_RE});
    let rate = json!({"type": "string", "pattern": RATE_RE});
    let dist = json!({"anyOf": [duration, {"$ref": "#/definitions/distribution"}]});
    let pair = json!({"type": "array", "items": [clock, clock], "minItems": 2, "maxItems": 2});
    match ty {
        Ty::Str => json!({"type": "string"}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::Int { min, max } => {
            let mut v = json!({"type": "integer", "minimum": min});
            if let Some(m) = max {
                v["maximum"] = json!(m);
            }
            v
        }
        Ty::Num {
            min,
            min_exclusive,
            max,
        } => {
            let mut v = json!({"type": "number"});
            match (min, min_exclusive) {
                (Some(m), true) => {
                    // Draft 4: a boolean beside `minimum`.
                    v["minimum"] = json!(m);
                    v["exclusiveMinimum"] = json!(true);
                }
                (Some(m), false) => v["minimum"] = json!(m),
                _ => {}
            }
            if let Some(m) = max {
                v["maximum"] = json!(m);
            }
            v
        }
        Ty::Prob => json!({"type": "number", "minimum": 0, "maximum": 1}),
        Ty::Duration => duration,
        Ty::DurationStr => json!({"type": "string", "pattern": DURATION_RE}),
        Ty::Clock => clock,
        Ty::Rate => rate,
        Ty::RateOrProfile => json!({"anyOf": [rate, {"type": "array", "minItems": 1,
            "items": {"type": "array", "items": [clock, rate], "minItems": 2, "maxItems": 2}}]}),
        Ty::Dist => dist,
        Ty::Patience => json!({"anyOf": [dist, {"enum": ["never", "inf"]}]}),
        Ty::Choice(c) => json!({"type": "string", "enum": c}),
        Ty::Choices(c) => json!({"type": "array", "items": {"type": "string", "enum": c}}),
        Ty::Strings => json!({"type": "array", "items": {"type": "string"}}),
        Ty::ClockPair => pair,
        Ty::Legs => json!({"anyOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX_LEGS},
            {"type": "object", "patternProperties": {"^([1-9]|10)$": {"type": "number", "minimum": 0}},
             "additionalProperties": false}]}),
        Ty::NumMap => {
            json!({"type": "object", "additionalProperties": {"type": "number", "minimum": 0}})
        }
        Ty::Table(d) => json!({"$ref": format!("#/definitions/{}", d.id)}),
        Ty::Map(inner) => json!({"type": "object", "additionalProperties": ty_schema(inner)}),
        Ty::Array(inner) => json!({"type": "array", "items": ty_schema(inner)}),
        Ty::AnyTable => json!({"type": "object"}),
    }
}

fn key_schema(key: &Key) -> Value {
    let mut v = ty_schema(&key.ty);
    let mut text = key.meaning.to_string();
    if !key.default.is_empty() {
        text.push_str(&format!(" Default: {}.", key.default));
    }
    let u = unit(key.name, &key.ty);
    if !u.is_empty() {
        text.push_str(&format!(" Unit: {u}."));
    }
    let obj = v.as_object_mut().expect("every type schema is an object");
    obj.insert("description".into(), json!(text));
    if !key.default.is_empty() {
        obj.insert("x-default".into(), json!(key.default));
    }
    if !u.is_empty() {
        obj.insert("x-unit".into(), json!(u));
    }
    v
}

fn def_schema(def: &Def) -> Value {
    let mut props = Map::new();
    for key in def.keys {
        props.insert(key.name.to_string(), key_schema(key));
    }
    let required: Vec<&str> = def
        .keys
        .iter()
        .filter(|k| k.required)
        .map(|k| k.name)
        .collect();
    let mut v = json!({
        "type": "object",
        "title": def.title,
        "properties": props,
        "additionalProperties": false,
    });
    // Draft 4: `required` may not be empty.
    if !required.is_empty() {
        v["required"] = json!(required);
    }
    v
}

/// The JSON Schema (draft 4) of a scenario file.
pub fn json_schema() -> Value {
    let mut definitions = Map::new();
    for d in defs().iter().skip(1) {
        definitions.insert(d.id.to_string(), def_schema(d));
    }
    let mut root = def_schema(&ROOT);
    let obj = root.as_object_mut().expect("object");
    obj.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-04/schema#"),
    );
    obj.insert(
        "description".into(),
        json!("A callsim scenario file (TOML). Generated by `callsim schema` from the loader's key registry."),
    );
    obj.insert("definitions".into(), Value::Object(definitions));
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_walks_names_arrays_and_distributions() {
        assert_eq!(lookup("carriers.main.rate"), Some(Ty::Rate));
        assert_eq!(
            lookup("sources.s.flow.destinations[2].ring_timeout"),
            Some(Ty::Duration)
        );
        assert_eq!(lookup("sources.s.patience.mean"), Some(Ty::Duration));
        assert!(lookup("sources.s.talk_time.components[0].weight").is_some());
        assert_eq!(lookup("changes[3].at"), Some(Ty::Clock));
        assert_eq!(lookup("carriers.main.rat"), None);
        assert_eq!(lookup("nonsense"), None);
        assert!(choices("carriers.x", "algorithm")
            .unwrap()
            .contains(&"gcra"));
    }

    #[test]
    fn every_definition_is_reachable_and_listed_once() {
        let s = json_schema();
        let defs_json = s["definitions"].as_object().unwrap();
        assert_eq!(defs_json.len(), defs().len() - 1);
        let text = s.to_string();
        for id in defs_json.keys() {
            assert!(
                text.contains(&format!("#/definitions/{id}\"")),
                "{id} is never referenced"
            );
        }
    }
}
