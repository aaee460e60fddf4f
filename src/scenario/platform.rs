//! Scenario tables for the platform: `[dependencies.NAME]`, `[stages.NAME]`, and the client keys
//! of a source (kind, tenant, method, accounts, stages, timeout, retries, backoff).

use super::reader::{describe, join, Obj, Result};
use super::{build_limiter, dist_key, dur_key, positive_dur_key};
use crate::dist::DurationDist;
use crate::model::config::*;
use crate::time::SimDuration;

pub const DEPENDENCY_KEYS: &[&str] = &["description"];

pub fn build_dependency(o: &Obj, name: &str) -> Result<DependencyConfig> {
    let _ = o.str_opt("description")?;
    let nodes_obj = o.table_opt("nodes")?.ok_or_else(|| {
        o.missing(
            "nodes",
            "{ master = { latency = \"1ms\" }, replica = { latency = \"1ms\" } }",
        )
    })?;
    if nodes_obj.table.is_empty() {
        return Err(o.err("nodes", "expected at least one node"));
    }
    let mut nodes = Vec::new();
    for (n, v) in nodes_obj.table {
        let _ = nodes_obj.get(n);
        let toml::Value::Table(t) = v else {
            return Err(nodes_obj.err(
                n,
                format!(
                    "expected a table {{ latency, error_rate }}, found {}",
                    describe(v)
                ),
            ));
        };
        let no = Obj::new(o.ctx, join(&nodes_obj.path, n), t);
        let latency =
            dist_key(&no, "latency")?.unwrap_or(DurationDist::Fixed(SimDuration::from_millis(1)));
        let error_rate = no.prob_opt("error_rate")?.unwrap_or(0.0);
        let episodes = match no.table_opt("episodes")? {
            Some(e) if !e.table.is_empty() => Some(build_episodes(&e)?),
            _ => None,
        };
        let error_rate_standby = no.prob_opt("error_rate_standby")?;
        no.finish(&["description"])?;
        nodes.push(NodeConfig {
            name: n.clone(),
            latency,
            error_rate,
            episodes,
            error_rate_standby,
        });
    }
    let primary = match o.str_opt("primary")? {
        None => 0,
        Some(p) => nodes.iter().position(|n| n.name == p).ok_or_else(|| {
            o.err(
                "primary",
                format!(
                    "no node named `{p}`; nodes: {}",
                    nodes
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?,
    };
    let health_check = match o.table_opt("health_check")? {
        None => None,
        Some(h) => {
            let every = positive_dur_key(&h, "every")?.unwrap_or(SimDuration::from_secs(5));
            let fail_after = dur_key(&h, "fail_after")?.unwrap_or(SimDuration::from_secs(30));
            let timeout = positive_dur_key(&h, "timeout")?;
            h.finish(&[])?;
            if nodes.len() < 2 {
                return Err(o.err("health_check", "a failover needs at least two nodes"));
            }
            Some(HealthCheck {
                every,
                fail_after,
                timeout,
            })
        }
    };
    let connections = match o.positive_u64_opt("connections")? {
        Some(c) if c > u64::from(u32::MAX) => {
            return Err(o.err("connections", format!("expected at most {}", u32::MAX)))
        }
        c => c.map(|c| c as u32),
    };
    o.finish(DEPENDENCY_KEYS)?;
    Ok(DependencyConfig {
        name: name.to_string(),
        nodes,
        primary,
        health_check,
        connections,
    })
}

/// `nodes.NAME.episodes`: all three keys are required (an empty table means none).
fn build_episodes(e: &Obj) -> Result<Episodes> {
    let need = |key: &str, example: &str| -> Result<DurationDist> {
        dist_key(e, key)?.ok_or_else(|| e.missing(key, example))
    };
    let ep = Episodes {
        gap: need("gap", "{ dist = \"exponential\", mean = \"30m\" }")?,
        length: need("length", "{ dist = \"exponential\", mean = \"5m\" }")?,
        latency: need(
            "latency",
            "{ dist = \"lognormal\", median = \"2s\", sigma = 0.5 }",
        )?,
    };
    e.finish(&[])?;
    Ok(ep)
}

fn code_key(o: &Obj, key: &str, default: u16) -> Result<u16> {
    let c = o.u64_opt(key)?.unwrap_or(default as u64);
    if !(100..=699).contains(&c) {
        return Err(o.err(
            key,
            format!("expected a SIP or HTTP status code (100-699), found {c}"),
        ));
    }
    Ok(c as u16)
}

pub fn build_stage(o: &Obj, name: &str, dependencies: &[DependencyConfig]) -> Result<StageConfig> {
    let _ = o.str_opt("description")?;
    let sessions = o.positive_u64_opt("sessions")?;
    let over_limit = build_over_limit(o)?;
    let service_time =
        dist_key(o, "service_time")?.unwrap_or(DurationDist::Fixed(SimDuration::ZERO));
    let dependency = match o.table_opt("dependency")? {
        None => None,
        Some(d) => Some(build_stage_dependency(&d, dependencies)?),
    };
    let tenant_limit = match o.table_opt("tenant_limit")? {
        None => None,
        Some(t) => Some(build_tenant_limit(o, &t)?),
    };
    let pods = match o.table_opt("pods")? {
        None => None,
        Some(p) => Some(build_pods(o, &p, sessions)?),
    };
    let autoscaler = match o.table_opt("autoscaler")? {
        None => None,
        Some(a) => Some(build_autoscaler(o, &a, pods.as_ref())?),
    };
    let error_code = code_key(o, "error_code", 503)?;
    let in_path = build_in_path(o)?;
    o.finish(&[])?;
    Ok(StageConfig {
        name: name.to_string(),
        sessions,
        over_limit,
        service_time,
        dependency,
        tenant_limit,
        pods,
        autoscaler,
        error_code,
        in_path,
    })
}

/// `in_path`: false puts the stage out of band, which leaves it nothing to hold an attempt
/// with: no capacity (`sessions`, `pods`) and no `tenant_limit`.
fn build_in_path(o: &Obj) -> Result<bool> {
    let in_path = o.bool_opt("in_path")?.unwrap_or(true);
    if !in_path {
        for key in ["sessions", "pods", "tenant_limit", "over_limit"] {
            if o.has(key) {
                return Err(o.err(
                    "in_path",
                    format!("expected true with `{key}`: an out-of-band stage (in_path = false) holds no attempt, so it has no sessions, pods, tenant_limit or over_limit"),
                ));
            }
        }
    }
    Ok(in_path)
}

/// `over_limit`: refuse with a code, or wait up to `wait_timeout` for a session.
fn build_over_limit(o: &Obj) -> Result<StageOverLimit> {
    Ok(
        match o
            .choice_opt("over_limit", &["refuse", "wait"])?
            .unwrap_or("refuse")
        {
            "refuse" => {
                if o.has("wait_timeout") {
                    return Err(o.err(
                        "wait_timeout",
                        "`wait_timeout` applies only with over_limit = \"wait\"",
                    ));
                }
                StageOverLimit::Refuse {
                    code: code_key(o, "refuse_code", 503)?,
                }
            }
            _ => StageOverLimit::Wait {
                timeout: positive_dur_key(o, "wait_timeout")?,
                code: code_key(o, "refuse_code", 503)?,
            },
        },
    )
}

/// `[stages.NAME.dependency]`: which dependency a job looks up and what an error does.
fn build_stage_dependency(d: &Obj, dependencies: &[DependencyConfig]) -> Result<StageDependency> {
    let dname = d.str_req("name", "\"redis\"")?;
    let dependency = dependencies
        .iter()
        .position(|x| x.name == dname)
        .ok_or_else(|| {
            d.err(
                "name",
                format!(
                    "no dependency named `{dname}`; dependencies: {}",
                    dependencies
                        .iter()
                        .map(|x| x.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    let on_error = match d
        .choice_opt("on_error", &["fail_open", "fail_closed", "disable_account"])?
        .unwrap_or("fail_closed")
    {
        "fail_open" => LookupPolicy::FailOpen,
        "fail_closed" => LookupPolicy::FailClosed,
        _ => LookupPolicy::DisableAccount,
    };
    let follows_failover = d.bool_opt("follows_failover")?.unwrap_or(true);
    let timeout = positive_dur_key(d, "timeout")?;
    d.finish(&[])?;
    Ok(StageDependency {
        dependency,
        on_error,
        follows_failover,
        timeout,
    })
}

/// `[stages.NAME.tenant_limit]`: a limiter per tenant, its refusal code, methods that bypass it.
fn build_tenant_limit(o: &Obj, t: &Obj) -> Result<TenantLimit> {
    let limiter = build_limiter(t)?;
    let code = code_key(t, "code", 429)?;
    let bypass_methods = match t.array_opt("bypass_methods")? {
        None => Vec::new(),
        Some(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                toml::Value::String(s) => Ok(s.clone()),
                other => Err(o.ctx.err(
                    &format!("{}[{i}]", t.key_path("bypass_methods")),
                    format!("expected a method name, found {}", describe(other)),
                )),
            })
            .collect::<Result<Vec<_>>>()?,
    };
    t.finish(&[])?;
    Ok(TenantLimit {
        limiter,
        code,
        bypass_methods,
    })
}

/// `[stages.NAME.pods]`: pods x capacity instead of `sessions`, with memory, leaks and restarts.
fn build_pods(o: &Obj, p: &Obj, sessions: Option<u64>) -> Result<PodsConfig> {
    if sessions.is_some() {
        return Err(o.err(
            "sessions",
            "give either `sessions` or `pods` (pods x capacity), not both",
        ));
    }
    let count = p.u64_opt("count")?.ok_or_else(|| p.missing("count", "4"))?;
    let capacity = p
        .positive_u64_opt("capacity")?
        .ok_or_else(|| p.missing("capacity", "50"))?;
    let memory_limit_mb = p
        .positive_f64_opt("memory_limit_mb")?
        .unwrap_or(f64::INFINITY);
    let base_memory_mb = p.f64_opt("base_memory_mb")?.unwrap_or(0.0);
    if base_memory_mb < 0.0 || base_memory_mb >= memory_limit_mb {
        return Err(p.err(
            "base_memory_mb",
            "expected 0 <= base_memory_mb < memory_limit_mb",
        ));
    }
    let base_memory_spread_mb = p.f64_opt("base_memory_spread_mb")?.unwrap_or(0.0);
    if base_memory_spread_mb < 0.0
        || base_memory_spread_mb > base_memory_mb
        || base_memory_mb + base_memory_spread_mb >= memory_limit_mb
    {
        return Err(p.err(
            "base_memory_spread_mb",
            format!("expected 0 <= base_memory_spread_mb <= base_memory_mb and base_memory_mb + base_memory_spread_mb < memory_limit_mb, found {base_memory_spread_mb}"),
        ));
    }
    let slowdown_at_limit = p.f64_opt("slowdown_at_limit")?.unwrap_or(1.0);
    if !(1.0..=1000.0).contains(&slowdown_at_limit) {
        return Err(p.err(
            "slowdown_at_limit",
            format!(
                "expected a multiplier from 1 (no slowdown) to 1000, found {slowdown_at_limit}"
            ),
        ));
    }
    if slowdown_at_limit > 1.0 && !memory_limit_mb.is_finite() {
        return Err(p.err(
            "slowdown_at_limit",
            "needs memory_limit_mb (the slowdown grows with the pod's fill up to its limit)",
        ));
    }
    let leak_mb = match p.table_opt("leak_mb")? {
        None => Vec::new(),
        Some(l) => build_leak(&l)?,
    };
    let reclaim_mb_per_s = p.f64_opt("reclaim_mb_per_s")?.unwrap_or(0.0);
    if reclaim_mb_per_s < 0.0 {
        return Err(p.err(
            "reclaim_mb_per_s",
            format!("expected MB per second >= 0, found {reclaim_mb_per_s}"),
        ));
    }
    let restart_time = dur_key(p, "restart_time")?.unwrap_or(SimDuration::from_secs(30));
    let start_time = dur_key(p, "start_time")?.unwrap_or(SimDuration::from_secs(60));
    p.finish(&[])?;
    if count > 10_000 || capacity > 1_000_000 {
        return Err(o.err("pods", "at most 10000 pods of capacity at most 1000000"));
    }
    Ok(PodsConfig {
        count: count as u32,
        capacity: capacity as u32,
        memory_limit_mb,
        base_memory_mb,
        base_memory_spread_mb,
        slowdown_at_limit,
        leak_mb,
        reclaim_mb_per_s,
        restart_time,
        start_time,
    })
}

/// `[stages.NAME.pods.leak_mb]`: MB leaked per request, by method.
fn build_leak(l: &Obj) -> Result<Vec<(String, f64)>> {
    let mut v = Vec::new();
    for (m, x) in l.table {
        let _ = l.get(m);
        let mb = match x {
            toml::Value::Float(f) if *f >= 0.0 => *f,
            toml::Value::Integer(i) if *i >= 0 => *i as f64,
            other => {
                return Err(l.err(
                    m,
                    format!(
                        "expected MB leaked per request (>= 0), found {}",
                        describe(other)
                    ),
                ))
            }
        };
        v.push((m.clone(), mb));
    }
    Ok(v)
}

/// `[stages.NAME.autoscaler]`: scales the stage's pods (which it needs) between min and max.
fn build_autoscaler(o: &Obj, a: &Obj, pods: Option<&PodsConfig>) -> Result<AutoscalerConfig> {
    let Some(p) = pods else {
        return Err(o.err(
            "autoscaler",
            "an autoscaler needs [stages.NAME.pods] to scale",
        ));
    };
    let min = a.u64_opt("min")?.unwrap_or(1) as u32;
    let max = a
        .positive_u64_opt("max")?
        .unwrap_or(u64::from(p.count.max(1)) * 4);
    if max > 10_000 {
        return Err(a.err("max", "at most 10000 pods"));
    }
    let max = max as u32;
    if min > max {
        return Err(a.err("min", "expected min <= max"));
    }
    let metric = match a
        .choice_opt("metric", &["busy", "memory"])?
        .unwrap_or("busy")
    {
        "memory" => ScaleMetric::Memory,
        _ => ScaleMetric::Busy,
    };
    let target = a.f64_opt("target_utilization")?.unwrap_or(0.7);
    if !(target > 0.0 && target <= 1.0) {
        return Err(a.err(
            "target_utilization",
            format!("expected a share in (0, 1], found {target}"),
        ));
    }
    let cfg = AutoscalerConfig {
        min,
        max,
        metric,
        target_utilization: target,
        evaluate_every: positive_dur_key(a, "evaluate_every")?
            .unwrap_or(SimDuration::from_secs(30)),
        stabilization: dur_key(a, "stabilization")?.unwrap_or(SimDuration::from_secs(60)),
        cooldown: dur_key(a, "cooldown")?.unwrap_or(SimDuration::from_secs(180)),
    };
    a.finish(&[])?;
    Ok(cfg)
}

/// The client keys of a source.
pub fn build_client(o: &Obj, source: &str, stage_names: &[String]) -> Result<ClientConfig> {
    let kind = match o
        .choice_opt("kind", &["call", "request"])?
        .unwrap_or("call")
    {
        "call" => SourceKind::Call,
        _ => SourceKind::Request,
    };
    let tenant = o.str_opt("tenant")?.unwrap_or(source).to_string();
    let method = o
        .str_opt("method")?
        .unwrap_or(if kind == SourceKind::Call {
            "call"
        } else {
            "request"
        })
        .to_string();
    let accounts = o.positive_u64_opt("accounts")?.unwrap_or(1);
    if accounts > 10_000_000 {
        return Err(o.err("accounts", "at most 10,000,000 accounts per source"));
    }
    let stages = match o.array_opt("stages")? {
        None => Vec::new(),
        Some(a) => {
            let mut v = Vec::new();
            for (i, x) in a.iter().enumerate() {
                let path = format!("{}[{i}]", o.key_path("stages"));
                let toml::Value::String(n) = x else {
                    return Err(o.ctx.err(
                        &path,
                        format!("expected a stage name, found {}", describe(x)),
                    ));
                };
                let idx = stage_names.iter().position(|s| s == n).ok_or_else(|| {
                    o.ctx.err(
                        &path,
                        format!(
                            "no stage named `{n}`; stages: {}",
                            if stage_names.is_empty() {
                                "none defined".to_string()
                            } else {
                                stage_names.join(", ")
                            }
                        ),
                    )
                })?;
                v.push(idx);
            }
            v
        }
    };
    if kind == SourceKind::Request && stages.is_empty() {
        return Err(o.missing(
            "stages",
            "[\"gateway\"] (a request source needs the stages it passes)",
        ));
    }
    let timeout = positive_dur_key(o, "timeout")?;
    let retry = build_retry(o)?;
    Ok(ClientConfig {
        kind,
        tenant,
        method,
        accounts: accounts as u32,
        stages,
        timeout,
        retry,
    })
}

/// `retries`, `backoff` and `backoff_multiplier` of `o`: a platform client's (in
/// `[sources.NAME]`) or the retries of legs a carrier rejected (in `[carriers.NAME]`).
pub fn build_retry(o: &Obj) -> Result<RetryPolicy> {
    let retries = o.u64_opt("retries")?.unwrap_or(0);
    if retries > 100 {
        return Err(o.err(
            "retries",
            format!("{retries} retries is more than the 100 allowed"),
        ));
    }
    let mut policy = RetryPolicy::none();
    policy.retries = retries as u32;
    if let Some(b) = dist_key(o, "backoff")? {
        policy.backoff = b;
    }
    policy.backoff_multiplier = o.f64_opt("backoff_multiplier")?.unwrap_or(2.0);
    if !(1.0..=10.0).contains(&policy.backoff_multiplier) {
        return Err(o.err(
            "backoff_multiplier",
            format!(
                "expected a factor between 1 and 10, found {}",
                policy.backoff_multiplier
            ),
        ));
    }
    Ok(policy)
}
