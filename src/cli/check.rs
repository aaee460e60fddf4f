//! `callsim check`: load and validate a scenario and every variant; print what was understood.

use super::CliError;
use crate::dist::{DurationDist, RateProfile};
use crate::error::Context;
use crate::model::config::*;
use crate::scenario::{load, Scenario};

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Scenario file (TOML).
    pub scenario: std::path::PathBuf,
    /// Override any scenario key, e.g. --set carriers.carrier.rate=30/s (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Most events one replication may take (the run commands refuse more).
    #[arg(long, value_name = "N", default_value_t = crate::budget::DEFAULT_MAX_EVENTS)]
    pub max_events: f64,
}

pub fn run(a: CheckArgs) -> Result<(), CliError> {
    let sc = load(&a.scenario, None, &a.sets)?;
    crate::cli::say(&describe(&sc));
    crate::cli::say(&work_text(&sc));
    let budget = |sc: &Scenario, label: &str| {
        crate::budget::check(&sc.model, a.max_events)
            .map(|_| ())
            .with_context(|| format!("{}{label}", a.scenario.display()))
    };
    budget(&sc, "")?;
    for v in &sc.variants {
        let vs = load(&a.scenario, Some(v), &a.sets)?;
        budget(&vs, &format!(" (variant {v})"))?;
        crate::sayln!(
            "variant `{v}`: ok ({} scheduled changes)",
            vs.model.changes.len()
        );
    }
    crate::sayln!("{}: ok", a.scenario.display());
    Ok(())
}

/// The work estimate: calls, events, time and output per replication and in all.
pub fn work_text(sc: &Scenario) -> String {
    use crate::budget::{duration_words, sci, EVENTS_PER_S};
    let w = crate::budget::estimate(&sc.model);
    let n = f64::from(sc.replications);
    let calls = w.calls.map_or("calls from the trace".to_string(), |c| {
        format!("about {} calls", sci(c))
    });
    let mb = |b: f64| format!("{:.1} MB", b / 1e6);
    let retried = if w.events_all_retried > w.events {
        format!(
            "  with clients' retries: up to {} events per replication if every attempt failed and was retried (about {}); the run stops at its event budget if it gets there\n",
            sci(w.events_all_retried),
            duration_words(w.events_all_retried / EVENTS_PER_S)
        )
    } else {
        String::new()
    };
    let text = format!(
        "  work per replication: {calls}, {} legs, {} events (about {} at {} events/s); {} replications: about {} on one core\n  output with --out: timeline about {} per replication ({} rows), {} in all; calls.csv about {} more with --calls-csv\n",
        sci(w.legs),
        sci(w.events),
        duration_words(w.seconds()),
        sci(EVENTS_PER_S),
        sc.replications,
        duration_words(w.seconds() * n),
        mb(w.timeline_bytes),
        sci(w.timeline_rows),
        mb(w.timeline_bytes * n),
        mb(w.calls_bytes * n)
    );
    text + &retried
}

/// A plain-words description of a loaded scenario.
pub fn describe(sc: &Scenario) -> String {
    let m = &sc.model;
    let mut s = format!(
        "scenario: {}\n  {} to {} (drain up to {}), seed {}, {} replication(s)\n",
        sc.name,
        m.start.clock_hhmm(),
        m.end.clock_hhmm(),
        m.drain,
        sc.seed,
        sc.replications
    );
    for src in &m.sources {
        s += &source_words(src, m);
    }
    for st in &m.stages {
        let cap = match (&st.pods, st.sessions) {
            (Some(p), _) => format!("{} pods x {} concurrent", p.count, p.capacity),
            (None, Some(n)) => format!("{n} sessions"),
            (None, None) => "no session limit".into(),
        };
        s += &format!(
            "  stage {}: {cap}; mean service {:.3} s\n",
            st.name,
            st.service_time.mean_s()
        );
    }
    for d in &m.dependencies {
        let nodes: Vec<&str> = d.nodes.iter().map(|n| n.name.as_str()).collect();
        s += &format!(
            "  dependency {}: nodes {} (primary {})\n",
            d.name,
            nodes.join(", "),
            d.nodes[d.primary].name
        );
    }
    for c in &m.carriers {
        s += &carrier_words(c);
    }
    s += &format!("  backup routing: {}\n", backup_words(&m.backup.policy));
    for (i, p) in &m.backup.sources {
        s += &format!(
            "  backup routing of source {} alone: {}\n",
            m.sources[*i].name,
            backup_words(p)
        );
    }
    for ch in &m.changes {
        s += &format!("  change at {}\n", ch.label);
    }
    for r in &m.alerts {
        s += &format!(
            "  alert `{}`: {}, on each {} interval\n",
            r.name,
            r.describe(m.interval),
            m.interval
        );
    }
    s
}

/// One `source` line: its arrivals, what it sends, through which stages and carrier.
fn source_words(src: &SourceConfig, m: &ModelConfig) -> String {
    let b = &src.behaviour;
    let arrivals = match &src.arrivals {
        ArrivalSpec::Profile(p) => {
            let expected = expected_calls(p, m) * b.rate_scale;
            let peak = p.points.iter().map(|x| x.1).fold(0.0, f64::max) * b.rate_scale;
            format!("Poisson, peak {peak:.2}/s, about {expected:.0} calls expected")
        }
        ArrivalSpec::Trace(t) => format!("trace {} ({} rows)", t.path.display(), t.rows),
    };
    let c = &b.client;
    let path = if c.stages.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = c
            .stages
            .iter()
            .map(|&i| m.stages[i].name.as_str())
            .collect();
        format!(" through stages {}", names.join(" -> "))
    };
    let who = format!(
        "tenant {}, method {}, {} account(s)",
        c.tenant, c.method, c.accounts
    );
    if c.kind == SourceKind::Request {
        format!(
            "  source {}: {arrivals}; API requests{path}; {who}\n",
            src.name
        )
    } else {
        let head = format!(
            "  source {}: {arrivals}; {} of {:.2} legs on average{path} via carrier {}; {who}\n",
            src.name,
            if b.flow.mode == FlowMode::Simulcall {
                "simulcall"
            } else {
                "sequential ringing"
            },
            b.flow.legs.mean(),
            m.carriers
                .get(b.carrier)
                .map(|c| c.name.as_str())
                .unwrap_or("(none)")
        );
        head + &caller_words(b)
    }
}

/// What a call source's callers and destinations do: setup, destinations, patience, talk, redial.
fn caller_words(b: &SourceBehaviour) -> String {
    let mut s = String::new();
    for (i, d) in b.flow.destinations.iter().enumerate() {
        let which = if i == 0 {
            "destination 1 (primary)".to_string()
        } else {
            format!("destination {}", i + 1)
        };
        s += &format!(
            "    {which}: answers with probability {}, after {}; ring timeout {}\n",
            d.answer_probability,
            dist_words(&d.time_to_answer),
            d.ring_timeout
        );
    }
    let patience = b.patience.as_ref().map_or_else(
        || "never hang up before an answer".to_string(),
        |p| format!("hang up unanswered after {}", dist_words(p)),
    );
    s += &format!(
        "    callers: setup delay {}; {patience}; talk {}\n",
        dist_words(&b.setup_delay),
        dist_words(&b.talk_time)
    );
    s += &match &b.redial {
        None => "    redial: never\n".to_string(),
        Some(r) => {
            let after: Vec<&str> = [
                (r.after_abandon, "abandoning"),
                (r.after_failure, "a failure"),
                (r.after_no_answer, "no answer"),
            ]
            .iter()
            .filter(|x| x.0)
            .map(|x| x.1)
            .collect();
            format!(
                "    redial: with probability {} after {}, {} later, at most {} attempts in all\n",
                r.probability,
                after.join(" or "),
                dist_words(&r.delay),
                r.max_attempts
            )
        }
    };
    s
}

/// A duration distribution in words: its family, its parameters and its mean.
pub fn dist_words(d: &DurationDist) -> String {
    let short = |x: f64| {
        let t = format!("{x:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let secs = |x: f64| format!("{} s", short(x));
    match d {
        DurationDist::Fixed(v) => format!("exactly {v}"),
        DurationDist::Exponential { mean_s } => {
            format!("an exponential time, mean {}", secs(*mean_s))
        }
        DurationDist::LogNormal { mu, sigma } => format!(
            "a lognormal time, median {}, sigma {}, mean {}",
            secs(mu.exp()),
            short(*sigma),
            secs(d.mean_s())
        ),
        DurationDist::Weibull { shape, scale_s } => format!(
            "a Weibull time, shape {}, scale {}, mean {}",
            short(*shape),
            secs(*scale_s),
            secs(d.mean_s())
        ),
        DurationDist::Uniform { min_s, max_s } => {
            format!("a uniform time from {} to {}", secs(*min_s), secs(*max_s))
        }
        DurationDist::Empirical { sorted_s } => format!(
            "an empirical time ({} observations), mean {}",
            sorted_s.len(),
            secs(d.mean_s())
        ),
        DurationDist::Mixture(parts) => format!(
            "a mixture of {} distributions, mean {}",
            parts.len(),
            secs(d.mean_s())
        ),
    }
}

/// One `carrier` line: its limiter, channels, what happens over the limit, which legs count.
fn carrier_words(c: &CarrierConfig) -> String {
    let over = match c.over_limit {
        OverLimit::Queue {
            capacity,
            max_wait,
            cancel,
        } => format!(
            "over the limit legs queue FIFO ({}, {}{})",
            capacity
                .map(|c| format!("at most {c} waiting"))
                .unwrap_or_else(|| "no capacity limit".into()),
            max_wait
                .map(|w| format!("fail after {w}"))
                .unwrap_or_else(|| "no maximum wait".into()),
            match cancel {
                CancelQueued::Withdraw => "",
                CancelQueued::DialAndHangUp =>
                    ", cannot be withdrawn: a cancelled leg is still dialled and hung up at once",
            }
        ),
        OverLimit::Reject { code } => match c.leg_retry.as_ref().filter(|r| r.retries > 0) {
            None => format!("over the limit legs are rejected with {code}"),
            Some(r) => format!(
                "over the limit legs are rejected with {code} and retried up to {} times (mean backoff {:.3} s x {}^(k-1))",
                r.retries,
                r.backoff.mean_s(),
                r.backoff_multiplier
            ),
        },
    };
    let counting = match (c.count_each_leg, c.count_backup_legs) {
        _ if c.limiter == crate::limiter::LimiterSpec::Unlimited => "no leg waits for a dial slot",
        (true, true) => "every leg counts, backup legs too",
        (true, false) => "every leg counts, backup legs do not",
        (false, true) => "only a call's first leg counts, backup legs too",
        (false, false) => "only a call's first leg counts, backup legs do not",
    };
    let channels = c
        .channels
        .map(|n| format!("{n} channels"))
        .unwrap_or_else(|| "no channel limit".into());
    format!(
        "  carrier {}: {}; {channels}; {over}; {counting}\n",
        c.name,
        limiter_words(&c.limiter)
    )
}

fn expected_calls(p: &RateProfile, m: &ModelConfig) -> f64 {
    p.integral(m.start.as_secs_f64(), m.end.as_secs_f64())
}

fn limiter_words(l: &crate::limiter::LimiterSpec) -> String {
    use crate::limiter::LimiterSpec::*;
    match l {
        Unlimited => "no dial-rate limit".into(),
        TokenBucket { rate, burst } => format!("token bucket {rate}, burst {burst}"),
        Gcra { rate, burst } => format!("GCRA {rate}, burst {burst}"),
        FixedWindow { limit, window } => format!("fixed window: {limit} per {window}"),
        RollingWindow { limit, window } => format!("rolling window: {limit} in any {window}"),
    }
}

fn backup_words(p: &BackupPolicy) -> String {
    match p {
        BackupPolicy::Off => "never".into(),
        BackupPolicy::Manual(w) => {
            let spans: Vec<String> = w
                .iter()
                .map(|(a, b)| format!("{}-{}", a.clock_hhmm(), b.clock_hhmm()))
                .collect();
            format!("forced {}", spans.join(", "))
        }
        BackupPolicy::Auto(a) => format!(
            "automatic: on when {} > {}, off below {} after at least {}, checked every {}",
            match a.metric {
                AutoMetric::DialDelayP95 =>
                    format!("the p95 dial delay over the last {}", a.window),
                AutoMetric::OldestWait => "the oldest queued leg's wait".to_string(),
            },
            a.on_above,
            a.off_below,
            a.min_on,
            a.evaluate_every
        ),
    }
}
