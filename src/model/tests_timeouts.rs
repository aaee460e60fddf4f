//! Client timeouts are scheduled only when an attempt may outlive them (`arm_timeout`). The
//! reference is the old behaviour, every timeout scheduled when its attempt starts
//! (`Model::with_eager_timeouts`): on random platforms (waits with and without a wait timeout,
//! a connection pool, slow lookups, failing lookups, crashing pods, retries after fixed and
//! drawn backoffs, a change of sessions and of the timeout mid-run, requests and calls) the two
//! must agree on every call and every count; only the number of events may differ. Seen
//! failing (the counts differ) with the arming of an attempt that queues for a session removed
//! from `enter_stage`.

use super::tests::{scenario, Collect};
use super::{CallRecord, Model, Observations};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

fn run(sc: &crate::scenario::Scenario, seed: u64, eager: bool) -> (Observations, Vec<CallRecord>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut sink = Collect(calls.clone());
    let arrivals = Model::default_arrivals(&sc.model, seed, 0).expect("profile sources");
    let m = Model::new(&sc.model, seed, 0, arrivals, Some(&mut sink), true);
    let m = if eager { m.with_eager_timeouts() } else { m };
    let obs = m.run(&mut |_| {});
    let v = calls.lock().unwrap().clone();
    (obs, v)
}

#[allow(clippy::too_many_arguments)]
fn platform(
    connections: Option<u32>,
    slow: (f64, u32),
    error_rate: f64,
    sessions: Option<u32>,
    wait: Option<Option<u32>>,
    pods: Option<(u32, f64)>,
    (rate, timeout_ms, retries, fixed): (u32, u32, u32, bool),
    calls: bool,
    change: Option<(u32, u32)>,
) -> String {
    let pool = connections
        .map(|c| format!("connections = {c}\n"))
        .unwrap_or_default();
    let (slow_share, slow_ms) = slow;
    let mut t = format!(
        "start = \"00:00\"\nend = \"00:04\"\ndrain = \"1m\"\ntimeline_interval = \"1m\"\n\
         [carriers.c]\nrate = \"10/s\"\n\
         [dependencies.db]\n{pool}nodes.n = {{ latency = {{ dist = \"mixture\", components = [\
         {{ weight = {:.3}, dist = \"lognormal\", median = \"10ms\", sigma = 0.5 }}, \
         {{ weight = {slow_share:.3}, dist = \"lognormal\", median = \"{slow_ms}ms\", sigma = 0.6 }}] }}, \
         error_rate = {error_rate:.3} }}\n\
         [stages.lb]\nservice_time = {{ dist = \"exponential\", mean = \"20ms\" }}\n\
         dependency = {{ name = \"db\", on_error = \"fail_closed\" }}\n",
        1.0 - slow_share
    );
    if let Some(s) = sessions {
        t += &format!("sessions = {s}\n");
        match wait {
            Some(Some(ms)) => t += &format!("over_limit = \"wait\"\nwait_timeout = \"{ms}ms\"\n"),
            Some(None) => t += "over_limit = \"wait\"\n",
            None => {}
        }
    }
    let mut stages = "[\"lb\"]".to_string();
    if let Some((capacity, leak)) = pods {
        t += &format!(
            "[stages.app]\nservice_time = {{ dist = \"lognormal\", median = \"50ms\", sigma = 0.8 }}\n\
             pods = {{ count = 2, capacity = {capacity}, memory_limit_mb = 400, base_memory_mb = 300, \
             leak_mb = {{ \"m\" = {leak:.2} }}, reclaim_mb_per_s = 1.0, restart_time = \"10s\" }}\n"
        );
        stages = "[\"lb\", \"app\"]".into();
    }
    let backoff = if fixed {
        "\"300ms\"".to_string()
    } else {
        "{ dist = \"exponential\", mean = \"300ms\" }".to_string()
    };
    t += &format!(
        "[sources.r]\nkind = \"request\"\nmethod = \"m\"\nrate = \"{rate}/s\"\nstages = {stages}\n\
         timeout = \"{timeout_ms}ms\"\nretries = {retries}\nbackoff = {backoff}\n"
    );
    if calls {
        t += "[sources.k]\ncarrier = \"c\"\nrate = \"2/s\"\nstages = [\"lb\"]\ntimeout = \"1s\"\n\
              retries = 1\npatience = { dist = \"exponential\", mean = \"20s\" }\n\
              talk_time = { dist = \"exponential\", mean = \"30s\" }\n\
              [sources.k.flow]\ndestinations = [{ answer_probability = 0.8, time_to_answer = \"3s\", ring_timeout = \"20s\" }]\n";
    }
    if let Some((s, ms)) = change {
        let sessions = if sessions.is_some() {
            format!("stages.lb.sessions = {s}, ")
        } else {
            String::new()
        };
        t += &format!(
            "[[changes]]\nat = \"00:02\"\nset = {{ {sessions}sources.r.timeout = \"{ms}ms\" }}\n"
        );
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn lazy_client_timeouts_change_nothing_but_the_event_count(
        connections in prop::option::of(1u32..30),
        slow in (0.0f64..0.3, 100u32..3000),
        error_rate in 0.0f64..0.05,
        sessions in prop::option::of(1u32..60),
        wait in prop::option::of(prop::option::of(50u32..2000)),
        pods in prop::option::of((3u32..20, 0.0f64..2.0)),
        source in (5u32..80, 100u32..3000, 0u32..4, any::<bool>()),
        calls in any::<bool>(),
        change in prop::option::of((1u32..60, 100u32..3000)),
        seed in 0u64..1000,
    ) {
        let text = platform(connections, slow, error_rate, sessions, wait, pods, source, calls, change);
        let dir = tempfile::tempdir().unwrap();
        let sc = scenario(dir.path(), &text);
        let (lazy, lazy_calls) = run(&sc, seed, false);
        let (eager, eager_calls) = run(&sc, seed, true);
        prop_assert_eq!(&lazy.counts, &eager.counts, "{}", text);
        prop_assert_eq!(lazy_calls.len(), eager_calls.len());
        for (a, b) in lazy_calls.iter().zip(&eager_calls) {
            prop_assert_eq!(format!("{a:?}"), format!("{b:?}"), "{}", text);
        }
        for (a, b) in lazy.stages.iter().zip(&eager.stages) {
            prop_assert_eq!(&a.total, &b.total);
            prop_assert_eq!(a.sessions_in_use_max, b.sessions_in_use_max);
            prop_assert_eq!(a.latency.mean_ms().to_bits(), b.latency.mean_ms().to_bits());
            prop_assert_eq!(a.rows.len(), b.rows.len());
        }
        let rows = |o: &Observations| o.timeline.rows.iter().map(|r| r.counts.clone()).collect::<Vec<_>>();
        prop_assert_eq!(rows(&lazy), rows(&eager));
        prop_assert_eq!(lazy.end_time, eager.end_time);
        prop_assert_eq!(lazy.backup_on_s.to_bits(), eager.backup_on_s.to_bits());
        prop_assert!(lazy.events <= eager.events, "{} > {}", lazy.events, eager.events);
    }
}

/// Found by the property test above: requests that all beat their 100 ms timeout, the last of
/// them arriving shortly before the end at 00:04. The run ends (its timeline closes) where the
/// last stale timeout would have come due, as when every timeout was scheduled: the timeline
/// keeps its fifth, empty row. Seen failing (4 rows against 5) with `latest_reserved` left out
/// of `run_within`'s end.
#[test]
fn a_run_ends_where_its_last_unscheduled_timeout_would_have_come_due() {
    let text = platform(
        None,
        (0.0, 100),
        0.0,
        None,
        None,
        None,
        (5, 100, 0, false),
        false,
        Some((1, 187)),
    );
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(dir.path(), &text);
    let (lazy, _) = run(&sc, 639, false);
    let (eager, _) = run(&sc, 639, true);
    assert!(
        lazy.events < eager.events,
        "stale timeouts were not scheduled"
    );
    assert_eq!(lazy.end_time, eager.end_time);
    assert!(
        lazy.end_time > sc.model.end,
        "the last timeout falls after the end"
    );
    assert_eq!(lazy.timeline.rows.len(), 5);
    assert_eq!(lazy.stages[0].rows.len(), 5);
}
